package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"google.golang.org/protobuf/proto"

	"github.com/weave-agentd/weave-agentd/config"
	"github.com/weave-agentd/weave-agentd/daemon/export"
	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/spool"
)

// benchSpan is a realistic tool span (~1 KiB encoded).
func benchSpan(i int) genai.Span {
	tr := genai.NewTraceID("claude-code", "bench", fmt.Sprint(i/20))
	return genai.Span{
		TraceID: tr, SpanID: genai.NewSpanID(tr, genai.KindTool, fmt.Sprint(i)), ParentID: genai.NewSpanID(tr, genai.KindTurn, "turn"),
		Name: "execute_tool Bash", Start: time.Unix(1700000000, 0), End: time.Unix(1700000001, 0),
		Attrs: []attribute.KeyValue{
			attribute.String("gen_ai.operation.name", "execute_tool"),
			attribute.String("gen_ai.tool.name", "Bash"),
			attribute.String("gen_ai.tool.call.id", fmt.Sprintf("toolu_%020d", i)),
			attribute.String("gen_ai.conversation.id", "7ee671e6-598e-454b-abd9-a0db9258f0da"),
			attribute.String("gen_ai.tool.call.arguments", `{"command":"go test ./...","description":"Run the tests"}`),
			attribute.String("gen_ai.tool.call.result", strings.Repeat("ok  \tgithub.com/x/y\t0.01s\n", 25)),
		},
		Resource: []attribute.KeyValue{attribute.String("service.name", "claude-code"), attribute.String("service.version", "2.1.328")},
	}
}

// BenchmarkExport drains a pre-filled spool to a local OTLP/HTTP server that
// decompresses and decodes every request: the target is ≥ 20k spans/s.
func BenchmarkExport(b *testing.B) {
	srv := newFakeOTLP(&testing.T{})
	defer srv.Close()
	store, err := spool.Open(filepath.Join(b.TempDir(), "spool.db"), spool.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	res, _ := proto.Marshal(genai.ResourceProto(benchSpan(0).Resource))
	for i := 0; i < b.N; i += 512 {
		_ = store.Update(func(t *spool.Tx) error {
			for j := i; j < i+512 && j < b.N; j++ {
				sp := benchSpan(j)
				enc, _ := proto.Marshal(sp.Proto())
				if err := t.Enqueue(res, enc, time.Now()); err != nil {
					return err
				}
			}
			return nil
		})
	}
	cfg, _ := config.Load("")
	set := exportSettings(Settings{Config: cfg, Target: config.Target{URL: srv.URL + "/v1/traces"}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now})
	fwd, err := export.New(set, store)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	if err := fwd.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer fwd.Shutdown(context.Background())
	if err := fwd.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "spans/s")
}
