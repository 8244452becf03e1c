package daemon

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/weave-agentd/weave-agentd/config"
	"github.com/weave-agentd/weave-agentd/control"
	"github.com/weave-agentd/weave-agentd/daemon/export"
	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/hooks"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// lineBuilder is a scripted transcript.Builder: one span per transcript
// line ("name" = the line) and per hook event, ids derived from content.
type lineBuilder struct {
	session string
	path    string
	out     []genai.Span
	n       int
}

// hookAgents are the agents whose hook events the test daemons take, as
// cmd/weave-agentd passes them from the registry.
var hookAgents = map[string]string{hooks.AgentClaude: genai.AgentClaudeCode, hooks.AgentCursor: genai.AgentCursor}

func (b *lineBuilder) span(name string) genai.Span {
	tr := genai.NewTraceID("test", b.session, "t")
	return genai.Span{TraceID: tr, SpanID: genai.NewSpanID(tr, "line", name), Name: name,
		Start: time.Unix(1700000000, 0), End: time.Unix(1700000001, 0),
		Attrs:    []attribute.KeyValue{attribute.String("gen_ai.conversation.id", b.session)},
		Resource: []attribute.KeyValue{attribute.String("service.name", "claude-code")}}
}
func (b *lineBuilder) Line(_ string, line []byte) { b.n++; b.out = append(b.out, b.span(string(line))) }
func (b *lineBuilder) Hook(ev transcript.Event) {
	var c hooks.Common
	_ = json.Unmarshal(ev.Payload, &c)
	if c.TranscriptPath != "" {
		b.path = c.TranscriptPath
	}
	b.out = append(b.out, b.span("hook "+ev.Name))
}
func (b *lineBuilder) Tick(time.Time)     {}
func (b *lineBuilder) Take() []genai.Span { out := b.out; b.out = nil; return out }
func (b *lineBuilder) Files() []string {
	if b.path == "" {
		return nil
	}
	return []string{b.path}
}
func (b *lineBuilder) Idle() bool                    { return true }
func (b *lineBuilder) MarshalState() ([]byte, error) { return json.Marshal(b.n) }
func (b *lineBuilder) RestoreState(s []byte) error   { return json.Unmarshal(s, &b.n) }
func (b *lineBuilder) Stats() transcript.Stats       { return transcript.Stats{} }

// fakeOTLP is an OTLP/HTTP server whose answer a test can script.
type fakeOTLP struct {
	*httptest.Server
	mu      sync.Mutex
	names   map[string]int // span name -> times accepted
	answer  func(names []string) (status int, header http.Header, body []byte)
	reqs    int
	headers []http.Header
}

func newFakeOTLP(t *testing.T) *fakeOTLP {
	f := &fakeOTLP{names: map[string]int{}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			gz, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			body = gz
		}
		raw, _ := io.ReadAll(body)
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(raw, &req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		var names []string
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					names = append(names, s.Name)
				}
			}
		}
		f.mu.Lock()
		f.reqs++
		f.headers = append(f.headers, r.Header.Clone())
		answer := f.answer
		f.mu.Unlock()
		status, hdr, respBody := 200, http.Header{}, []byte(nil)
		if answer != nil {
			status, hdr, respBody = answer(names)
		}
		if status == 200 {
			f.mu.Lock()
			for _, n := range names {
				f.names[n]++
			}
			f.mu.Unlock()
		}
		for k, v := range hdr {
			w.Header()[k] = v
		}
		if respBody != nil && w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/x-protobuf")
		}
		w.WriteHeader(status)
		w.Write(respBody)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeOTLP) setAnswer(a func([]string) (int, http.Header, []byte)) {
	f.mu.Lock()
	f.answer = a
	f.mu.Unlock()
}

func (f *fakeOTLP) accepted() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for k, v := range f.names {
		out[k] = v
	}
	return out
}

type testDaemon struct {
	*Daemon
	home string
}

func startTestDaemon(t *testing.T, home string, target config.Target, mod func(*Settings)) *testDaemon {
	t.Helper()
	paths, err := hooks.ResolvePaths(func(k string) string {
		if k == "WEAVE_AGENTD_HOME" {
			return home
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := config.Load(filepath.Join(home, "none.toml"))
	set := Settings{
		Paths: paths, Config: cfg, Target: target, Version: "test",
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		Builders:      map[string]BuilderFactory{genai.AgentClaudeCode: func(_, s, p string) transcript.Builder { return &lineBuilder{session: s, path: p} }},
		HookAgents:    hookAgents,
		TickInterval:  50 * time.Millisecond,
		InboxInterval: 50 * time.Millisecond,
		ExportBackoff: export.Backoff{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond},
	}
	if testing.Verbose() {
		set.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if mod != nil {
		mod(&set)
	}
	d, err := New(set)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	td := &testDaemon{Daemon: d, home: home}
	t.Cleanup(func() { td.stop(t) })
	return td
}

func (td *testDaemon) stop(t *testing.T) {
	if td.Daemon == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := td.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	td.Daemon = nil
}

// hook runs the real hook client against the daemon's home.
func hook(t *testing.T, home, payload string) {
	t.Helper()
	var out bytes.Buffer
	code := hooks.RunHook([]string{"claude"}, strings.NewReader(payload), &out, func(k string) string {
		if k == "WEAVE_AGENTD_HOME" {
			return home
		}
		return ""
	})
	if code != 0 || out.Len() != 0 {
		t.Fatalf("hook: code=%d out=%q", code, out.String())
	}
}

func (td *testDaemon) flush(t *testing.T, timeout time.Duration) control.FlushResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return td.Flush(ctx)
}

func writeTranscript(t *testing.T, path string, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		fmt.Fprintln(f, l)
	}
	f.Close()
}

func event(session, name, transcript string) string {
	b, _ := json.Marshal(map[string]string{"session_id": session, "hook_event_name": name, "transcript_path": transcript})
	return string(b)
}

func TestHookToServerEndToEnd(t *testing.T) {
	srv := newFakeOTLP(t)
	home := t.TempDir()
	td := startTestDaemon(t, home, config.Target{URL: srv.URL + "/v1/traces", Headers: map[string]string{"project_id": "e/p"}}, nil)
	tr := filepath.Join(home, "s1.jsonl")
	writeTranscript(t, tr, "line-1", "line-2")
	hook(t, home, event("s1", "SessionStart", tr))
	writeTranscript(t, tr, "line-3")
	hook(t, home, event("s1", "Stop", tr))
	if res := td.flush(t, 5*time.Second); !res.Done {
		t.Fatalf("flush: %+v", res)
	}
	got := srv.accepted()
	for _, n := range []string{"line-1", "line-2", "line-3", "hook SessionStart", "hook Stop"} {
		if got[n] != 1 {
			t.Errorf("span %q received %d times, want 1 (all: %v)", n, got[n], got)
		}
	}
	if h := srv.headers[0]; h.Get("project_id") != "e/p" || h.Get("Content-Type") != "application/x-protobuf" || h.Get("Content-Encoding") != "gzip" {
		t.Errorf("request headers = %v", h)
	}
	st, _ := td.Status()
	if !st.ExportHealthy || st.Spool.Depth != 0 || st.Counters["exported"] != 5 {
		t.Errorf("status = %+v", st)
	}
}

func TestPartialLineWaitsForItsNewline(t *testing.T) {
	srv := newFakeOTLP(t)
	home := t.TempDir()
	td := startTestDaemon(t, home, config.Target{URL: srv.URL}, nil)
	tr := filepath.Join(home, "s.jsonl")
	os.WriteFile(tr, []byte("whole\npart"), 0o600)
	hook(t, home, event("s", "SessionStart", tr))
	td.flush(t, 5*time.Second)
	if got := srv.accepted(); got["part"] != 0 || got["whole"] != 1 {
		t.Fatalf("got %v", got)
	}
	writeTranscript(t, tr, "ial")
	td.flush(t, 5*time.Second)
	if got := srv.accepted(); got["partial"] != 1 {
		t.Fatalf("got %v", got)
	}
}

func TestServerDownThenBackDeliversOnce(t *testing.T) {
	srv := newFakeOTLP(t)
	srv.setAnswer(func([]string) (int, http.Header, []byte) {
		return 503, http.Header{"Retry-After": {"0"}}, nil
	})
	home := t.TempDir()
	td := startTestDaemon(t, home, config.Target{URL: srv.URL}, nil)
	tr := filepath.Join(home, "s.jsonl")
	writeTranscript(t, tr, "a", "b")
	hook(t, home, event("s", "SessionStart", tr))
	if res := td.flush(t, 300*time.Millisecond); res.Done || res.Remaining == 0 {
		t.Fatalf("flush while down: %+v", res)
	}
	st, _ := td.Status()
	if st.ExportHealthy || st.Spool.LastError == nil || !strings.Contains(st.Spool.LastError.Message, "503") {
		t.Fatalf("status while down: healthy=%v last=%+v", st.ExportHealthy, st.Spool.LastError)
	}
	srv.setAnswer(nil)
	if res := td.flush(t, 5*time.Second); !res.Done {
		t.Fatalf("flush after recovery: %+v", res)
	}
	for n, c := range srv.accepted() {
		if c != 1 {
			t.Errorf("%s received %d times", n, c)
		}
	}
	if st, _ := td.Status(); !st.ExportHealthy || st.Spool.LastError != nil {
		t.Fatalf("status after recovery: %+v", st)
	}
}

func TestPoisonSpanIsIsolatedIntoDeadLetters(t *testing.T) {
	srv := newFakeOTLP(t)
	srv.setAnswer(func(names []string) (int, http.Header, []byte) {
		for _, n := range names {
			if n == "poison" {
				return 400, nil, []byte("invalid span")
			}
		}
		return 200, nil, nil
	})
	home := t.TempDir()
	td := startTestDaemon(t, home, config.Target{URL: srv.URL}, nil)
	tr := filepath.Join(home, "s.jsonl")
	writeTranscript(t, tr, "a", "b", "poison", "c", "d", "e")
	hook(t, home, event("s", "SessionStart", tr))
	if res := td.flush(t, 5*time.Second); !res.Done {
		t.Fatalf("flush: %+v", res)
	}
	got := srv.accepted()
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		if got[n] != 1 {
			t.Errorf("%s received %d times", n, got[n])
		}
	}
	dls, _ := td.store.DeadLetters(10)
	if len(dls) != 1 || !strings.Contains(dls[0].Reason, "400") {
		t.Fatalf("dead letters = %+v", dls)
	}
	if st, _ := td.Status(); !st.ExportHealthy || st.Counters["dead_lettered"] != 1 {
		t.Fatalf("status = %+v", st)
	}
}

func TestPartialSuccessIsRecorded(t *testing.T) {
	srv := newFakeOTLP(t)
	srv.setAnswer(func([]string) (int, http.Header, []byte) {
		b, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{PartialSuccess: &coltracepb.ExportTracePartialSuccess{RejectedSpans: 1, ErrorMessage: "span too old"}})
		return 200, nil, b
	})
	home := t.TempDir()
	td := startTestDaemon(t, home, config.Target{URL: srv.URL}, nil)
	tr := filepath.Join(home, "s.jsonl")
	writeTranscript(t, tr, "a")
	hook(t, home, event("s", "SessionStart", tr))
	if res := td.flush(t, 5*time.Second); !res.Done {
		t.Fatalf("flush: %+v", res)
	}
	dls, _ := td.store.DeadLetters(10)
	if len(dls) != 1 || !strings.Contains(dls[0].Reason, "span too old") {
		t.Fatalf("dead letters = %+v", dls)
	}
	// The server names no span: 'deadletters list' names the request's.
	resp, err := hooks.Call(td.set.Paths.Socket, 5*time.Second, control.Request(control.MethodDeadLettersList, nil))
	if err != nil {
		t.Fatal(err)
	}
	var views []control.DeadLetterView
	if err := json.Unmarshal(resp.Body, &views); err != nil || len(views) != 1 || len(views[0].Candidates) == 0 {
		t.Fatalf("deadletters list = %s (%v): want the request's spans", resp.Body, err)
	}
	for _, c := range views[0].Candidates {
		if len(c.TraceID) != 32 || len(c.SpanID) != 16 || c.Name == "" {
			t.Errorf("candidate %+v: want its trace and span ids and name", c)
		}
	}
	if srv.reqs != 1 {
		t.Fatalf("requests = %d: a partial success must not be re-sent", srv.reqs)
	}
}

func TestRestartResumesWithoutDuplicates(t *testing.T) {
	srv := newFakeOTLP(t)
	home := t.TempDir()
	tr := filepath.Join(home, "s.jsonl")
	td := startTestDaemon(t, home, config.Target{URL: srv.URL}, nil)
	writeTranscript(t, tr, "a", "b")
	hook(t, home, event("s", "SessionStart", tr))
	td.flush(t, 5*time.Second)
	td.stop(t)

	writeTranscript(t, tr, "c") // written while the daemon is down
	hook(t, home, event("s", "Stop", tr))
	if _, err := os.Stat(filepath.Join(home, "inbox.jsonl")); err != nil {
		t.Fatalf("hook did not journal while the daemon was down: %v", err)
	}
	td2 := startTestDaemon(t, home, config.Target{URL: srv.URL}, nil)
	if res := td2.flush(t, 5*time.Second); !res.Done {
		t.Fatalf("flush: %+v", res)
	}
	want := map[string]int{"a": 1, "b": 1, "c": 1, "hook SessionStart": 1, "hook Stop": 1}
	got := srv.accepted()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("received %v, want %v", got, want)
	}
	if _, err := os.Stat(filepath.Join(home, "inbox.jsonl")); err == nil {
		t.Fatal("inbox not deleted after drain")
	}
}

func TestDuplicateEventIDIsDroppedOnce(t *testing.T) {
	srv := newFakeOTLP(t)
	home := t.TempDir()
	td := startTestDaemon(t, home, config.Target{URL: srv.URL}, nil)
	ev := &hooks.Event{ID: "same", Agent: "claude", Name: "Stop", Session: "s", RecvNS: 1,
		Payload: json.RawMessage(`{"session_id":"s","hook_event_name":"Stop"}`)}
	journaled := *ev // Accept consumes its event (the payload moves into the record)
	if err := td.ingest.Accept(ev); err != nil {
		t.Fatal(err)
	}
	// The same event, journaled by a hook whose ack came late.
	if err := hooks.AppendInbox(filepath.Join(home, "inbox.jsonl"), &journaled); err != nil {
		t.Fatal(err)
	}
	td.flush(t, 5*time.Second)
	if got := srv.accepted()["hook Stop"]; got != 1 {
		t.Fatalf("event traced %d times", got)
	}
	if st, _ := td.Status(); st.Counters["dup_events"] != 1 {
		t.Fatalf("dup counter = %d", st.Counters["dup_events"])
	}
}

func TestSecondDaemonRefuses(t *testing.T) {
	home := t.TempDir()
	startTestDaemon(t, home, config.Target{}, nil)
	paths, _ := hooks.ResolvePaths(func(k string) string { return map[string]string{"WEAVE_AGENTD_HOME": home}[k] })
	cfg, _ := config.Load("")
	d, _ := New(Settings{Paths: paths, Config: cfg})
	err := d.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("second daemon: %v", err)
	}
}

func TestStaleSocketIsReplaced(t *testing.T) {
	home := t.TempDir()
	os.WriteFile(filepath.Join(home, "agentd.sock"), nil, 0o600) // left by a crash
	td := startTestDaemon(t, home, config.Target{}, nil)
	fi, err := os.Stat(filepath.Join(home, "agentd.sock"))
	if err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket: %v %v", fi.Mode(), err)
	}
	if _, err := hooks.Call(td.set.Paths.Socket, time.Second, &hooks.Request{Op: hooks.OpStatus}); err != nil {
		t.Fatal(err)
	}
}

func TestFileSinkWritesOTLPJSONWithHexIDs(t *testing.T) {
	home := t.TempDir()
	td := startTestDaemon(t, home, config.Target{}, nil)
	tr := filepath.Join(home, "s.jsonl")
	writeTranscript(t, tr, "a")
	hook(t, home, event("s", "SessionStart", tr))
	if res := td.flush(t, 5*time.Second); !res.Done {
		t.Fatalf("flush: %+v", res)
	}
	b, err := os.ReadFile(SinkFile(td.set.Paths.SinkDir))
	if err != nil {
		t.Fatal(err)
	}
	var req struct {
		ResourceSpans []struct {
			ScopeSpans []struct {
				Spans []struct {
					TraceID string `json:"traceId"`
					SpanID  string `json:"spanId"`
					Kind    int    `json:"kind"`
				} `json:"spans"`
			} `json:"scopeSpans"`
		} `json:"resourceSpans"`
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	if err := json.Unmarshal(line, &req); err != nil {
		t.Fatal(err)
	}
	sp := req.ResourceSpans[0].ScopeSpans[0].Spans[0]
	tid := genai.NewTraceID("test", "s", "t")
	if sp.TraceID != tid.String() || len(sp.SpanID) != 16 || sp.Kind != 1 {
		t.Fatalf("span = %+v, want trace %s", sp, tid)
	}
}

func TestExcludedProjectIsNeverSpooled(t *testing.T) {
	srv := newFakeOTLP(t)
	home := t.TempDir()
	proj := filepath.Join(home, "secret-project")
	os.MkdirAll(filepath.Join(proj, "sub"), 0o700)
	os.WriteFile(filepath.Join(proj, ".weave-agentd-ignore"), nil, 0o600)
	td := startTestDaemon(t, home, config.Target{URL: srv.URL}, nil)
	b, _ := json.Marshal(map[string]string{"session_id": "s", "hook_event_name": "Stop", "cwd": filepath.Join(proj, "sub")})
	hook(t, home, string(b))
	td.flush(t, 5*time.Second)
	if st, _ := td.Status(); st.Counters["events"] != 0 || len(srv.accepted()) != 0 {
		t.Fatalf("excluded project spooled: %+v", st.Counters)
	}
}

func TestTranscriptWithoutHooksIsDiscovered(t *testing.T) {
	srv := newFakeOTLP(t)
	home := t.TempDir()
	root := filepath.Join(home, "claude", "projects")
	proj := filepath.Join(root, "-home-me-proj")
	os.MkdirAll(proj, 0o700)
	ignoredProj := filepath.Join(root, "-home-me-private")
	os.MkdirAll(ignoredProj, 0o700)
	os.MkdirAll(filepath.Join(home, "private"), 0o700)
	os.WriteFile(filepath.Join(home, "private", ".weave-agentd-ignore"), nil, 0o600)

	writeTranscript(t, filepath.Join(proj, "s-untrusted.jsonl"), `{"cwd":"/home/me/proj"}`, "l2")
	writeTranscript(t, filepath.Join(proj, "agent-a1.jsonl"), "subagent file: found by its session's builder, not as a session")
	writeTranscript(t, filepath.Join(ignoredProj, "s-private.jsonl"), fmt.Sprintf(`{"cwd":%q}`, filepath.Join(home, "private")))
	td := startTestDaemon(t, home, config.Target{URL: srv.URL}, func(s *Settings) {
		s.Discover = []DiscoverRoot{{Agent: genai.AgentClaudeCode, Dir: root}}
	})
	if res := td.flush(t, 5*time.Second); !res.Done {
		t.Fatalf("flush: %+v", res)
	}
	got := srv.accepted()
	if got["l2"] != 1 || len(got) != 2 {
		t.Fatalf("received %v", got)
	}
	writeTranscript(t, filepath.Join(proj, "s-untrusted.jsonl"), "l3")
	td.flush(t, 5*time.Second)
	if got := srv.accepted(); got["l3"] != 1 || got["l2"] != 1 {
		t.Fatalf("after append: %v", got)
	}
}

// A failed reload is kept for status (its first time, the latest message,
// a password masked) while the daemon runs on; CheckConfig refuses what
// Start would.
func TestReloadFailedShowsInStatus(t *testing.T) {
	home := t.TempDir()
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	td := startTestDaemon(t, home, config.Target{}, func(s *Settings) { s.Now = func() time.Time { return now } })
	if st, _ := td.Status(); st.ConfigError != nil {
		t.Fatalf("config error before any reload: %+v", st.ConfigError)
	}
	td.ReloadFailed(errors.New("config /x/config.toml, line 2: unknown key(s) endpont"))
	now = now.Add(time.Minute)
	td.ReloadFailed(errors.New(`config /x/config.toml, line 3: endpoint: "ftp://bob:Hunter2Hunter2@h/v1/traces": want an http:// or https:// URL`))
	st, err := td.Status()
	if err != nil {
		t.Fatal(err)
	}
	ce := st.ConfigError
	if ce == nil || !strings.Contains(ce.Message, "line 3: endpoint") || strings.Contains(ce.Message, "Hunter2") || !ce.Since.Equal(now.Add(-time.Minute)) {
		t.Fatalf("config error = %+v", ce)
	}
	hook(t, home, event("s1", "SessionStart", ""))
	if r := td.flush(t, 5*time.Second); !r.Done {
		t.Fatalf("the daemon stopped working after a failed reload: %+v", r)
	}

	cfg, _ := config.Load(filepath.Join(home, "none.toml"))
	cfg.CAFile = filepath.Join(home, "missing-ca.pem")
	if err := CheckConfig(Settings{Config: cfg, Target: config.Target{URL: "https://collector.example/v1/traces"}}); err == nil || !strings.Contains(err.Error(), "ca_file") {
		t.Fatalf("CheckConfig with a missing CA file = %v", err)
	}
	cfg.CAFile = ""
	if err := CheckConfig(Settings{Config: cfg, Target: config.Target{URL: "https://collector.example/v1/traces"}}); err != nil {
		t.Fatalf("CheckConfig of a good config = %v", err)
	}
}
