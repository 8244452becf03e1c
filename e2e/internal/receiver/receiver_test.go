package receiver

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// makeTraces builds one resource with a root span and n-1 children.
func makeTraces(traceByte byte, n int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "claude-code")
	rs.Resource().Attributes().PutStr("service.version", "2.1.328")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("weave-agentd")
	tid := pcommon.TraceID{traceByte, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	start := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		sp := ss.Spans().AppendEmpty()
		sp.SetTraceID(tid)
		sp.SetSpanID(pcommon.SpanID{traceByte, byte(i + 1), 0, 0, 0, 0, 0, 1})
		if i > 0 {
			sp.SetParentSpanID(pcommon.SpanID{traceByte, 1, 0, 0, 0, 0, 0, 1})
			sp.SetName(fmt.Sprintf("execute_tool Bash%d", i))
			sp.Attributes().PutStr("gen_ai.operation.name", "execute_tool")
		} else {
			sp.SetName("invoke_agent claude-code")
			sp.Attributes().PutStr("gen_ai.operation.name", "invoke_agent")
			sp.Attributes().PutInt("gen_ai.usage.input_tokens", 1234)
			sp.Status().SetCode(ptrace.StatusCodeError)
			sp.Status().SetMessage("interrupted")
		}
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(i) * time.Second)))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(i+1) * time.Second)))
		ev := sp.Events().AppendEmpty()
		ev.SetName("gen_ai.compaction")
		ev.Attributes().PutInt("pre_tokens", 99)
	}
	return td
}

type encoding struct {
	json, gzip bool
}

func post(t *testing.T, url string, td ptrace.Traces, enc encoding) (int, http.Header, []byte) {
	t.Helper()
	req := ptraceotlp.NewExportRequestFromTraces(td)
	var body []byte
	var err error
	ct := "application/x-protobuf"
	if enc.json {
		body, err = req.MarshalJSON()
		ct = "application/json"
	} else {
		body, err = req.MarshalProto()
	}
	if err != nil {
		t.Fatal(err)
	}
	if enc.gzip {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(body)
		_ = zw.Close()
		body = buf.Bytes()
	}
	hreq, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	hreq.Header.Set("Content-Type", ct)
	if enc.gzip {
		hreq.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := http.DefaultClient.Do(hreq)
	if err != nil {
		return 0, nil, []byte(err.Error())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestReceiveEncodings(t *testing.T) {
	r := Start(t)
	if !strings.HasPrefix(r.URL(), "http://127.0.0.1:") || !strings.HasSuffix(r.URL(), "/v1/traces") {
		t.Fatalf("URL = %q", r.URL())
	}
	encs := []encoding{{}, {json: true}, {gzip: true}, {json: true, gzip: true}}
	for i, enc := range encs {
		code, _, body := post(t, r.URL(), makeTraces(byte(i+1), 3), enc)
		if code != http.StatusOK {
			t.Fatalf("%+v: status %d: %s", enc, code, body)
		}
	}
	spans, err := r.WaitForSpans(ctx(t), 12)
	if err != nil {
		t.Fatal(err)
	}
	if len(spans) != 12 || r.Batches() != 4 {
		t.Fatalf("got %d spans in %d batches", len(spans), r.Batches())
	}
	root := ByName(spans, "invoke_agent claude-code")
	if len(root) != 4 {
		t.Fatalf("roots: %d", len(root))
	}
	s := root[0]
	if s.TraceID != "010102030405060708090a0b0c0d0e0f" || s.SpanID != "0101000000000001" || s.ParentSpanID != "" {
		t.Errorf("ids: %s %s %q", s.TraceID, s.SpanID, s.ParentSpanID)
	}
	if s.Int("gen_ai.usage.input_tokens") != 1234 || s.Attr("gen_ai.operation.name") != "invoke_agent" {
		t.Errorf("attributes: %v", s.Attributes)
	}
	if s.StatusCode != "Error" || s.StatusMessage != "interrupted" {
		t.Errorf("status: %s %q", s.StatusCode, s.StatusMessage)
	}
	if s.Resource["service.name"] != "claude-code" || s.ScopeName != "weave-agentd" {
		t.Errorf("resource/scope: %v %q", s.Resource, s.ScopeName)
	}
	if s.Duration() != time.Second || len(s.Events) != 1 || s.Events[0].Name != "gen_ai.compaction" {
		t.Errorf("duration %v events %v", s.Duration(), s.Events)
	}
	kids := Children(spans, s)
	if len(kids) != 2 || kids[0].Kind != "Unspecified" {
		t.Errorf("children: %+v", kids)
	}
	if d := r.Duplicates(); len(d) != 0 {
		t.Errorf("duplicates: %v", d)
	}
}

func TestDuplicatesCounted(t *testing.T) {
	r := Start(t)
	for i := 0; i < 2; i++ {
		if code, _, b := post(t, r.URL(), makeTraces(7, 2), encoding{}); code != 200 {
			t.Fatalf("status %d %s", code, b)
		}
	}
	if _, err := r.WaitFor(ctx(t), func(s []Span) bool { return len(s) == 4 }); err != nil {
		t.Fatal(err)
	}
	if got := r.Count("0701000000000001"); got != 2 {
		t.Errorf("Count = %d", got)
	}
	if d := r.Duplicates(); len(d) != 2 {
		t.Errorf("Duplicates = %v", d)
	}
	if u := r.UniqueSpans(); len(u) != 2 {
		t.Errorf("UniqueSpans = %d", len(u))
	}
	r.Reset()
	if len(r.Spans()) != 0 || r.Batches() != 0 || len(r.Counts()) != 0 {
		t.Error("Reset kept data")
	}
}

func TestStopRestartSamePort(t *testing.T) {
	r := Start(t)
	url := r.URL()
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	if r.Running() {
		t.Fatal("still running")
	}
	if code, _, body := post(t, url, makeTraces(1, 1), encoding{}); code != 0 {
		t.Fatalf("stopped receiver answered %d %s", code, body)
	} else if !strings.Contains(string(body), "refused") {
		t.Logf("error while stopped: %s", body)
	}
	if err := r.Restart(); err != nil {
		t.Fatal(err)
	}
	if r.URL() != url {
		t.Fatalf("URL changed: %s -> %s", url, r.URL())
	}
	if code, _, body := post(t, url, makeTraces(1, 1), encoding{}); code != 200 {
		t.Fatalf("after restart: %d %s", code, body)
	}
	if _, err := r.WaitForSpans(ctx(t), 1); err != nil {
		t.Fatal(err)
	}
	// Stop twice and restart twice are harmless.
	_ = r.Stop()
	_ = r.Stop()
	if err := r.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := r.Restart(); err != nil {
		t.Fatal(err)
	}
}

func TestConsumeError(t *testing.T) {
	r := Start(t)
	cases := []struct {
		err  error
		want int
	}{
		{errors.New("busy"), 503},
		{status.Error(codes.ResourceExhausted, "slow down"), 429},
		{status.Error(codes.InvalidArgument, "bad"), 400},
	}
	for _, c := range cases {
		r.SetConsumeError(c.err)
		if code, _, body := post(t, r.URL(), makeTraces(1, 1), encoding{}); code != c.want {
			t.Errorf("%v: status %d want %d (%s)", c.err, code, c.want, body)
		}
	}
	r.SetConsumeError(nil)
	if code, _, _ := post(t, r.URL(), makeTraces(1, 1), encoding{}); code != 200 {
		t.Fatalf("status %d", code)
	}
	if len(r.Spans()) != 1 {
		t.Errorf("spans: %d", len(r.Spans()))
	}
}

func TestWaitTimeout(t *testing.T) {
	r := Start(t)
	c, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := r.WaitForSpans(c, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
}

func TestFaulty(t *testing.T) {
	r := Start(t)
	f := NewFaulty(t, r.Endpoint())

	// Pass-through.
	if code, _, b := post(t, f.URL(), makeTraces(1, 2), encoding{gzip: true}); code != 200 {
		t.Fatalf("passthrough %d %s", code, b)
	}
	// Queued faults, then persistent.
	f.Next(Unavailable("2"), TooManyRequests("1"), BadRequest("nope"))
	code, h, _ := post(t, f.URL(), makeTraces(2, 1), encoding{})
	if code != 503 || h.Get("Retry-After") != "2" {
		t.Errorf("503: %d %v", code, h)
	}
	code, h, _ = post(t, f.URL(), makeTraces(2, 1), encoding{})
	if code != 429 || h.Get("Retry-After") != "1" {
		t.Errorf("429: %d %v", code, h)
	}
	code, _, b := post(t, f.URL(), makeTraces(2, 1), encoding{})
	if code != 400 || !strings.Contains(string(b), "nope") {
		t.Errorf("400: %d %s", code, b)
	}
	if len(r.Spans()) != 2 {
		t.Fatalf("faulted batches reached the server: %d spans", len(r.Spans()))
	}

	// Lost response: stored upstream, client sees 503; the resend duplicates.
	f.Next(LostResponse())
	if code, _, _ := post(t, f.URL(), makeTraces(3, 1), encoding{}); code != 503 {
		t.Errorf("lost response: %d", code)
	}
	if code, _, _ := post(t, f.URL(), makeTraces(3, 1), encoding{}); code != 200 {
		t.Errorf("resend: %d", code)
	}
	if got := r.Count("0301000000000001"); got != 2 {
		t.Errorf("count after lost response = %d", got)
	}

	// Partial success, protobuf and JSON.
	f.Set(Fault{PartialRejected: 1, PartialMessage: "span too big"})
	for _, enc := range []encoding{{}, {json: true}} {
		code, _, b := post(t, f.URL(), makeTraces(4, 2), enc)
		if code != 200 {
			t.Fatalf("partial: %d", code)
		}
		resp := ptraceotlp.NewExportResponse()
		var err error
		if enc.json {
			err = resp.UnmarshalJSON(b)
		} else {
			err = resp.UnmarshalProto(b)
		}
		if err != nil || resp.PartialSuccess().RejectedSpans() != 1 || resp.PartialSuccess().ErrorMessage() != "span too big" {
			t.Errorf("partial response %v: %v", err, resp.PartialSuccess())
		}
	}
	f.Clear()

	// Closed connection.
	f.Next(Fault{CloseConn: true})
	if code, _, _ := post(t, f.URL(), makeTraces(5, 1), encoding{}); code != 0 {
		t.Errorf("closed conn answered %d", code)
	}
	// Upstream down → 502 from the front.
	_ = r.Stop()
	if code, _, _ := post(t, f.URL(), makeTraces(6, 1), encoding{}); code != http.StatusBadGateway {
		t.Errorf("upstream down: %d", code)
	}
	_ = r.Restart()

	reqs := f.Requests()
	if len(reqs) != 10 {
		t.Fatalf("requests: %d", len(reqs))
	}
	spans, err := reqs[0].DecodeSpans()
	if err != nil || len(spans) != 2 || reqs[0].ContentEncoding != "gzip" {
		t.Errorf("decode: %v %d", err, len(spans))
	}
	if reqs[1].Status != 503 || reqs[5].Upstream != 200 {
		t.Errorf("recorded statuses: %d %d", reqs[1].Status, reqs[5].Upstream)
	}
}

func TestFaultyDelayHonoursClientCancel(t *testing.T) {
	r := Start(t)
	f := NewFaulty(t, r.Endpoint())
	f.Next(Fault{Delay: time.Minute})
	c, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(c, http.MethodPost, f.URL(), strings.NewReader("x"))
	start := time.Now()
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("expected timeout")
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("delay not cut short")
	}
}

// TestOTelExporter sends spans with the same exporter the daemon uses
// (otlptracehttp) to prove the receiver speaks real OTLP/HTTP.
func TestOTelExporter(t *testing.T) {
	r := Start(t)
	f := NewFaulty(t, r.Endpoint())
	f.Next(Unavailable("0"))
	exp, err := otlptracehttp.New(ctx(t), otlptracehttp.WithEndpointURL(f.URL()), otlptracehttp.WithCompression(otlptracehttp.GzipCompression),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: true, InitialInterval: 10 * time.Millisecond, MaxInterval: 50 * time.Millisecond, MaxElapsedTime: 5 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	res := resource.NewSchemaless(attribute.String("service.name", "claude-code"))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithResource(res))
	_, sp := tp.Tracer("weave-agentd").Start(context.Background(), "chat claude-sonnet")
	sp.SetAttributes(attribute.Int("gen_ai.usage.output_tokens", 42))
	sp.End()
	if err := tp.Shutdown(ctx(t)); err != nil {
		t.Fatal(err)
	}
	spans, err := r.WaitForSpans(ctx(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	if spans[0].Name != "chat claude-sonnet" || spans[0].Int("gen_ai.usage.output_tokens") != 42 || spans[0].Resource["service.name"] != "claude-code" {
		t.Errorf("span: %+v", spans[0])
	}
	reqs := f.Requests()
	if len(reqs) != 2 || reqs[0].Status != 503 || reqs[1].Status != 200 {
		t.Errorf("exporter did not retry after 503: %+v", reqs)
	}
}
