package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/config"
	"github.com/weave-agentd/weave-agentd/control"
	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/hooks"
	"github.com/weave-agentd/weave-agentd/transcript"
	"github.com/weave-agentd/weave-agentd/transcript/claude"
)

// BenchmarkBackfillInProcess is the backfill pipeline (tail, reconstruct,
// redact, encode, commit) in one process, for profiling:
//
//	go test -run '^$' -bench BackfillInProcess -benchtime 1x -cpuprofile cpu.out ./daemon
func BenchmarkBackfillInProcess(b *testing.B) {
	src := filepath.Join("..", "..", "shared", "fixtures", "claude-code", "spotter-v2.1.38-39", "4d5611e5-241a-462a-8d15-5122611a9569.jsonl")
	if _, err := os.Stat(src); err != nil {
		b.Skip("fixtures absent")
	}
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }))
	defer sink.Close()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		home, _ := os.MkdirTemp("", "wabf-")
		root := filepath.Join(home, "projects")
		proj := filepath.Join(root, "-p")
		os.MkdirAll(proj, 0o700)
		var total int64
		for n := 0; n < 40; n++ {
			dst := filepath.Join(proj, fmt.Sprintf("%08d-0000-4000-8000-000000000000.jsonl", n))
			os.Link(src, dst)
			fi, _ := os.Stat(dst)
			total += fi.Size()
		}
		paths, _ := hooks.ResolvePaths(func(k string) string { return map[string]string{"WEAVE_AGENTD_HOME": home}[k] })
		cfg, _ := config.Load("")
		log := slog.New(slog.DiscardHandler)
		d, err := New(Settings{Paths: paths, Config: cfg, Logger: log, Target: config.Target{URL: sink.URL},
			Builders: map[string]BuilderFactory{genai.AgentClaudeCode: func(_, s, p string) transcript.Builder {
				return claude.New(s, claude.Options{TranscriptPath: p, ClaudeHome: home, Logger: log})
			}},
			Discover: []DiscoverRoot{{Agent: genai.AgentClaudeCode, Dir: root}}, DiscoverWindow: time.Nanosecond})
		if err != nil {
			b.Fatal(err)
		}
		if err := d.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		if _, err := d.bf.start(control.BackfillArgs{}); err != nil {
			b.Fatal(err)
		}
		for {
			p, _ := d.bf.progress()
			if p.Done {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		el := time.Since(start)
		b.StopTimer()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(total)/(1<<20)/el.Seconds(), "MB/s")
		b.ReportMetric(float64(ms.HeapSys)/(1<<20), "heap-sys-MB")
		d.Shutdown(context.Background())
		os.RemoveAll(home)
	}
}
