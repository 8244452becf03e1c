package daemon

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/weave-agentd/weave-agentd/config"
	"github.com/weave-agentd/weave-agentd/control"
)

// silentServer accepts connections and never answers.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + ln.Addr().String() + "/v1/traces"
}

// A server that takes the connection and never answers: each attempt ends
// at the export timeout and counts as a failed attempt; status says why.
func TestExportTimeoutIsAFailedAttempt(t *testing.T) {
	url := silentServer(t)
	home := t.TempDir()
	td := startTestDaemon(t, home, config.Target{URL: url}, func(s *Settings) { s.ExportTimeout = 200 * time.Millisecond })
	tr := filepath.Join(home, "s.jsonl")
	writeTranscript(t, tr, "a", "b")
	hook(t, home, event("s", "SessionStart", tr))
	res := td.flush(t, 2*time.Second)
	// Under load the status may catch the request still in flight past its
	// timeout: that is reported as a timeout too.
	timedOut := func(msg string) bool {
		return strings.Contains(msg, "timed out") || strings.Contains(msg, "waited")
	}
	if res.Done || res.Remaining == 0 || !timedOut(res.Message) {
		t.Fatalf("flush against a silent server: %+v", res)
	}
	st, _ := td.Status()
	if st.ExportHealthy || st.Counters["failed"] < 1 || st.ExportError == nil || !timedOut(st.ExportError.Message) {
		t.Fatalf("status: healthy=%v failed=%d export_error=%+v", st.ExportHealthy, st.Counters["failed"], st.ExportError)
	}
}

// A server that refuses every request for credentials, URL, proxy or size
// (or every span for its content, even alone) never turns the spans into
// dead letters: they stay, status fails with the code and a hint, flush
// gives up at once without a word of acceptance, hooks warn the user.
func TestRefusingServerKeepsTheSpans(t *testing.T) {
	partialAll := func([]string) (int, http.Header, []byte) {
		b, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{PartialSuccess: &coltracepb.ExportTracePartialSuccess{RejectedSpans: 1 << 20, ErrorMessage: "nope"}})
		return 200, nil, b
	}
	tests := []struct {
		status int
		answer func([]string) (int, http.Header, []byte)
		hint   string
	}{
		{status: 401, hint: "credentials"},
		{status: 403, hint: "credentials"},
		{status: 404, hint: "full OTLP/HTTP traces URL"},
		{status: 407, hint: "proxy"},
		{status: 413, hint: "size limit"},
		{status: 400, hint: "cannot read"},
		{status: 415, hint: "OTLP/protobuf"},
		{status: 200, answer: partialAll, hint: "cannot read"},
		// A proxy's login page, or a web app's catch-all route at a wrong
		// URL: a 200 that is no OTLP response took nothing.
		{status: 200, answer: func([]string) (int, http.Header, []byte) {
			return 200, http.Header{"Content-Type": {"text/html; charset=utf-8"}}, []byte("<!doctype html><html><body>Please log in</body></html>")
		}, hint: "web page"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			srv := newFakeOTLP(t)
			answer := tt.answer
			if answer == nil {
				answer = func([]string) (int, http.Header, []byte) { return tt.status, nil, []byte("refused") }
			}
			srv.setAnswer(answer)
			home := t.TempDir()
			td := startTestDaemon(t, home, config.Target{URL: srv.URL}, nil)
			tr := filepath.Join(home, "s.jsonl")
			writeTranscript(t, tr, "a", "b", "c", "d")
			hook(t, home, event("s", "SessionStart", tr))
			res := td.flush(t, 10*time.Second)
			if res.Done || res.Remaining != 5 || res.Exported != 0 || res.DeadLettered != 0 || !strings.Contains(res.Message, "hint: ") {
				t.Errorf("flush: %+v", res)
			}
			st, _ := td.Status()
			if st.ExportHealthy || st.Spool.Depth != 5 || st.Spool.DeadLetters != 0 || st.Counters["dead_lettered"] != 0 || st.Counters["exported"] != 0 {
				t.Errorf("status: healthy=%v depth=%d dead letters=%d counters=%v", st.ExportHealthy, st.Spool.Depth, st.Spool.DeadLetters, st.Counters)
			}
			if e := st.ExportError; e == nil || !e.Refused || e.Status != tt.status || !strings.Contains(e.Hint, tt.hint) {
				t.Errorf("export error %+v: want status %d, refused, a hint about %q", e, tt.status, tt.hint)
			}
			if w := td.status.Warning(); !strings.Contains(w, "refuses") || !strings.Contains(w, tt.hint) {
				t.Errorf("hooks' warning %q: want it at once, with the hint", w)
			}
			// The server comes right: everything is delivered once.
			before := srv.accepted() // the fake counts partial successes as taken
			srv.setAnswer(nil)
			if res := td.flush(t, 10*time.Second); !res.Done || res.Exported != 5 || res.DeadLettered != 0 {
				t.Fatalf("flush after the fix: %+v", res)
			}
			for n, c := range srv.accepted() {
				if c-before[n] != 1 {
					t.Errorf("%s received %d times", n, c)
				}
			}
		})
	}
}

// A flush right after the server was fixed waits for an attempt of its
// own: the refusal of the attempt under way when it began (answered by the
// server before the fix) is no answer to it. Before, flush took that
// refusal and gave up: TestRefusingServerKeepsTheSpans failed on a loaded
// machine whenever a background retry was under way as it flushed.
func TestFlushIgnoresTheRefusalOfAnAttemptBeganBeforeIt(t *testing.T) {
	srv := newFakeOTLP(t)
	inFlight, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	srv.setAnswer(func([]string) (int, http.Header, []byte) {
		once.Do(func() { close(inFlight); <-release })
		return 415, nil, []byte("refused")
	})
	home := t.TempDir()
	td := startTestDaemon(t, home, config.Target{URL: srv.URL}, nil)
	// One span: the attempt is one request. The server has refused it,
	// and is fixed before the answer arrives.
	hook(t, home, event("s", "SessionStart", ""))
	<-inFlight
	srv.setAnswer(nil)
	flushed := make(chan control.FlushResult, 1)
	go func() { flushed <- td.Flush(context.Background()) }()
	time.Sleep(300 * time.Millisecond) // lets the flush begin first (the result does not depend on it)
	close(release)
	if res := <-flushed; !res.Done || res.Exported != 1 {
		t.Fatalf("flush after the fix: %+v", res)
	}
}

// One span refused for its content while the others are accepted is the
// only dead letter, and flush says so rather than "accepted".
func TestPoisonSpanFlushReportsTheDeadLetter(t *testing.T) {
	srv := newFakeOTLP(t)
	// Unavailable until the flush, so that everything happens within it,
	// however fast the forwarder is.
	var open atomic.Bool
	srv.setAnswer(func(names []string) (int, http.Header, []byte) {
		if !open.Load() {
			return 503, nil, []byte("not yet")
		}
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
	writeTranscript(t, tr, "a", "b", "poison", "c")
	hook(t, home, event("s", "SessionStart", tr))
	open.Store(true)
	res := td.flush(t, 5*time.Second)
	if !res.Done || res.Exported != 4 || res.DeadLettered != 1 {
		t.Fatalf("flush: %+v", res)
	}
	st, _ := td.Status()
	if !st.ExportHealthy || st.Spool.DeadLetters != 1 || st.Counters["dead_lettered"] != 1 {
		t.Fatalf("status: %+v", st)
	}
}

// Bodies are gzipped or not as the target says (Weave gets what its SDKs
// send: plain protobuf).
func TestCompressionFollowsTheTarget(t *testing.T) {
	for _, c := range []string{config.CompressionGzip, config.CompressionNone} {
		t.Run(c, func(t *testing.T) {
			srv := newFakeOTLP(t)
			home := t.TempDir()
			td := startTestDaemon(t, home, config.Target{URL: srv.URL, Compression: c}, nil)
			tr := filepath.Join(home, "s.jsonl")
			writeTranscript(t, tr, "a")
			hook(t, home, event("s", "SessionStart", tr))
			if res := td.flush(t, 5*time.Second); !res.Done {
				t.Fatalf("flush: %+v", res)
			}
			srv.mu.Lock()
			defer srv.mu.Unlock()
			want := map[string]string{"gzip": "gzip", "none": ""}[c]
			for _, h := range srv.headers {
				if got := h.Get("Content-Encoding"); got != want || h.Get("Content-Type") != "application/x-protobuf" {
					t.Errorf("Content-Encoding %q Content-Type %q, want %q and protobuf", got, h.Get("Content-Type"), want)
				}
			}
		})
	}
}
