package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/e2e/internal/agentd"
	"github.com/weave-agentd/weave-agentd/e2e/internal/crash"
	"github.com/weave-agentd/weave-agentd/e2e/internal/receiver"
)

// relFeedWarned is relFeed for a daemon whose exports fail: a SessionStart
// hook may print the warning for the user ({"systemMessage": ...}), and
// nothing else.
func relFeedWarned(t *testing.T, h *agentd.Home, sessions []*crash.Session) {
	t.Helper()
	ops := crash.Plan(sessions, rand.New(rand.NewSource(1)), crash.PlanOptions{MaxPause: time.Millisecond})
	f := &crash.Feeder{Home: h.HOME, HookBin: filepath.Join(h.Bin, "weave-agentd-hook"), Env: h.Environ()}
	if err := f.Run(ops); err != nil {
		t.Fatal(err)
	}
	for _, r := range f.Hooks() {
		if r.Err != nil || r.Code != 0 || r.Stderr != "" || (r.Stdout != "" && !strings.HasPrefix(r.Stdout, `{"systemMessage":`)) {
			t.Errorf("hook %s: err=%v code=%d stdout=%q stderr=%q", r.Name, r.Err, r.Code, r.Stdout, r.Stderr)
		}
	}
}

// relExportError is status --json's export_error.
type relExportError struct {
	ExportError *struct {
		Message string `json:"message"`
		Status  int    `json:"status"`
		Hint    string `json:"hint"`
		Refused bool   `json:"refused"`
	} `json:"export_error"`
}

// A server that refuses every request for credentials, URL, proxy or size,
// or every span for its content even alone, must not turn the spans into
// dead letters. The real daemon keeps them; status exits 1 with the HTTP
// status and a hint; flush exits 1 at once and never says "accepted"; the
// next SessionStart hook warns the user; doctor fails on it. When the server
// is fixed, everything arrives once.
func TestRefusingServerKeepsSpans(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status int
		hint   string
	}{
		{401, "credentials"},
		{404, "full OTLP/HTTP traces URL"},
		{407, "proxy"},
		{413, "size limit"},
		{400, "cannot read"},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			t.Parallel()
			rcv := receiver.Start(t)
			faulty := receiver.NewFaulty(t, rcv.Endpoint())
			faulty.Set(receiver.Fault{Status: tc.status})
			h := agentd.NewHome(t)
			h.WriteConfig("endpoint = \"" + faulty.URL() + "\"\n")
			h.StartDaemon()
			relFeedWarned(t, h, relScenarios(t, "bash", "plain"))

			code := fmt.Sprintf("HTTP %d", tc.status)
			st := relWaitStatus(t, h, "a refused export", func(s relStatus) bool {
				return s.Code == 1 && !s.ExportHealthy && s.Spool.Depth > 0 && strings.Contains(s.lastError(), code)
			})
			var ee relExportError
			if err := json.Unmarshal([]byte(st.Raw), &ee); err != nil || ee.ExportError == nil ||
				ee.ExportError.Status != tc.status || !ee.ExportError.Refused || !strings.Contains(ee.ExportError.Hint, tc.hint) {
				t.Errorf("status --json export_error: want status %d, refused, a hint about %q:\n%s", tc.status, tc.hint, st.Raw)
			}
			if r := h.CLI("status"); r.Code != 1 || !strings.Contains(r.Stdout, "FAILING") || !strings.Contains(r.Stdout, code) || !strings.Contains(r.Stdout, "hint: ") {
				t.Errorf("status: exit %d, want 1 with FAILING, %s and a hint:\n%s", r.Code, code, r.Stdout)
			}
			r := h.CLI("flush", "--timeout", "30s")
			if r.Code != 1 || strings.Contains(r.Stdout+r.Stderr, "accepted") || !strings.Contains(r.Stderr, code) || !strings.Contains(r.Stderr, "hint: ") {
				t.Errorf("flush: exit %d, want 1 with %s and a hint, never \"accepted\":\n%s%s", r.Code, code, r.Stdout, r.Stderr)
			}
			if r.Duration > 20*time.Second {
				t.Logf("flush took %s to give up", r.Duration)
			}
			hook := h.Hook([]byte(`{"session_id":"warn-check","hook_event_name":"SessionStart","cwd":"/tmp"}`), "claude")
			if hook.Code != 0 || !strings.HasPrefix(hook.Stdout, `{"systemMessage":`) || !strings.Contains(hook.Stdout, code) {
				t.Errorf("SessionStart hook: exit %d stdout %q, want the warning with %s", hook.Code, hook.Stdout, code)
			}
			if r := h.CLI("doctor"); r.Code != 1 || !strings.Contains(r.Stdout, "exports have failed since") || !strings.Contains(r.Stdout, code) {
				t.Errorf("doctor: exit %d, want a FAIL line on the exports with %s:\n%s", r.Code, code, r.Stdout)
			}
			if r := h.CLI("deadletters", "list", "--json"); r.Code != 0 || strings.TrimSpace(r.Stdout) != "[]" {
				t.Errorf("deadletters list: exit %d %s%s, want none", r.Code, r.Stdout, r.Stderr)
			}
			st = relGetStatus(t, h)
			if st.Spool.DeadLetters != 0 || st.Counters["dead_lettered"] != 0 || st.Counters["exported"] != 0 || st.Spool.Depth != st.Counters["spans"] {
				t.Errorf("status: dead letters %d, counters %v, depth %d: want every span kept", st.Spool.DeadLetters, st.Counters, st.Spool.Depth)
			}

			faulty.Clear()
			if r := h.CLI("flush", "--timeout", "60s"); r.Code != 0 || !strings.Contains(r.Stdout, "accepted") {
				t.Fatalf("flush after the fix: exit %d %s%s", r.Code, r.Stdout, r.Stderr)
			}
			relSettle(t, h, rcv)
			st = relGetStatus(t, h)
			if st.Code != 0 || st.Spool.Depth != 0 || st.Counters["exported"] != st.Counters["spans"] || int64(len(rcv.UniqueSpans())) != st.Counters["spans"] {
				t.Errorf("after the fix: exit %d depth %d counters %v, %d spans received", st.Code, st.Spool.Depth, st.Counters, len(rcv.UniqueSpans()))
			}
			if d := rcv.Duplicates(); len(d) > 0 {
				t.Errorf("spans received more than once: %v", d)
			}
		})
	}
}

// sentRequest is what a test server saw of one export request.
type sentRequest struct {
	path    string
	header  http.Header
	spans   int
	decoded error
}

// recordingServer answers 200 to everything and records each request.
func recordingServer(t *testing.T) (*httptest.Server, func() []sentRequest) {
	var mu sync.Mutex
	var reqs []sentRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		spans, err := receiver.Request{Body: body, ContentType: r.Header.Get("Content-Type"), ContentEncoding: r.Header.Get("Content-Encoding")}.DecodeSpans()
		mu.Lock()
		reqs = append(reqs, sentRequest{path: r.URL.Path, header: r.Header.Clone(), spans: len(spans), decoded: err})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []sentRequest {
		mu.Lock()
		defer mu.Unlock()
		return append([]sentRequest(nil), reqs...)
	}
}

// The Weave shortcut sends what Weave's own SDKs send: plain protobuf to
// /agents/otel/v1/traces, never gzip. Other endpoints honour compression
// (config, then OTEL_EXPORTER_OTLP_*COMPRESSION), gzip by default.
func TestCompressionPerTarget(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		config   func(url string) string
		env      []string
		path     string
		encoding string
	}{
		{name: "weave", path: "/agents/otel/v1/traces", encoding: "",
			config: func(url string) string {
				return fmt.Sprintf("weave_project = \"ent/proj\"\nweave_api_key = \"k\"\nweave_base_url = %q\n", url)
			}},
		{name: "otlp default", path: "/v1/traces", encoding: "gzip",
			config: func(url string) string { return fmt.Sprintf("endpoint = %q\n", url+"/v1/traces") }},
		{name: "otlp config none", path: "/v1/traces", encoding: "",
			config: func(url string) string {
				return fmt.Sprintf("endpoint = %q\ncompression = \"none\"\n", url+"/v1/traces")
			}},
		{name: "otlp env none", path: "/v1/traces", encoding: "", env: []string{"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION=none"},
			config: func(url string) string { return fmt.Sprintf("endpoint = %q\n", url+"/v1/traces") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, reqs := recordingServer(t)
			h := agentd.NewHome(t)
			h.Env = tc.env
			h.WriteConfig(tc.config(srv.URL))
			h.StartDaemon()
			relFeed(t, h, relScenarios(t, "plain"))
			if r := h.CLI("flush", "--timeout", "60s"); r.Code != 0 {
				t.Fatalf("flush: exit %d %s%s", r.Code, r.Stdout, r.Stderr)
			}
			got := reqs()
			if len(got) == 0 {
				t.Fatal("no request reached the server")
			}
			for _, r := range got {
				if r.path != tc.path || r.header.Get("Content-Encoding") != tc.encoding || r.header.Get("Content-Type") != "application/x-protobuf" || r.decoded != nil || r.spans == 0 {
					t.Errorf("request to %s, Content-Encoding %q, Content-Type %q, %d span(s), decode error %v: want %s, %q, protobuf",
						r.path, r.header.Get("Content-Encoding"), r.header.Get("Content-Type"), r.spans, r.decoded, tc.path, tc.encoding)
				}
			}
		})
	}
}

// One span refused for its content while the server takes the others: flush
// reports it as a dead letter, never as accepted, and status and
// deadletters list agree on it. (A Retry-After of an hour keeps the daemon
// from retrying on its own: the flush makes the attempt that isolates it.)
func TestFlushReportsThePoisonedSpanAsADeadLetter(t *testing.T) {
	t.Parallel()
	rcv := receiver.Start(t)
	faulty := receiver.NewFaulty(t, rcv.Endpoint())
	faulty.Set(receiver.Unavailable("3600"))
	front := newRelFront(t, faulty.Endpoint())
	front.setPoison()
	h := agentd.NewHome(t)
	h.WriteConfig("endpoint = \"" + front.URL() + "\"\n")
	h.StartDaemon()
	relFeed(t, h, relScenarios(t, "bash"))
	relWaitStatus(t, h, "a 503 as the last error", func(s relStatus) bool {
		return s.Code == 1 && strings.Contains(s.lastError(), "503")
	})
	if st := relGetStatus(t, h); st.Counters["dead_lettered"] != 0 {
		t.Fatalf("dead letters while the server answered 503 to everything else: %v", st.Counters)
	}

	faulty.Clear()
	r := h.CLI("flush", "--timeout", "60s")
	if r.Code != 0 || strings.Contains(r.Stdout, "everything held was accepted") || !strings.Contains(r.Stdout, "1 span(s) refused for good") || !strings.Contains(r.Stdout, "deadletters list") {
		t.Errorf("flush: exit %d, want 0 naming the dead letter, not \"everything held was accepted\":\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	poison, _ := front.poisoned()
	st := relGetStatus(t, h)
	var dls []struct {
		SpanID string `json:"span_id"`
	}
	lr := h.CLI("deadletters", "list", "--json")
	if err := json.Unmarshal([]byte(lr.Stdout), &dls); err != nil {
		t.Fatalf("deadletters list --json: %v\n%s", err, lr.Stdout)
	}
	if st.Code != 0 || st.Counters["dead_lettered"] != 1 || st.Spool.DeadLetters != 1 || len(dls) != 1 || dls[0].SpanID != poison {
		t.Errorf("status exit %d, dead_lettered %d, dead letters %d; list %v; want 0, 1, 1 and the poisoned span %s",
			st.Code, st.Counters["dead_lettered"], st.Spool.DeadLetters, dls, poison)
	}
	if r := h.CLI("status"); !strings.Contains(r.Stdout, "dead letters: 1 held") {
		t.Errorf("status does not count the dead letter as the list does:\n%s", r.Stdout)
	}
	if rcv.Count(poison) != 0 || int64(len(rcv.UniqueSpans())) != st.Counters["exported"] || st.Counters["exported"]+1 != st.Counters["spans"] {
		t.Errorf("received %d, counters %v: want every span but the poisoned one", len(rcv.UniqueSpans()), st.Counters)
	}
}
