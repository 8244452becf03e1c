package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/weave-agentd/weave-agentd/config"
	"github.com/weave-agentd/weave-agentd/spool"
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

// blockingExporter hangs in export until released, whatever its context
// says: a request that escaped every timeout.
type blockingExporter struct {
	called  chan struct{}
	release chan struct{}
}

func (b *blockingExporter) export(context.Context, []*tracepb.ResourceSpans) exportResult {
	b.called <- struct{}{}
	<-b.release
	return exportResult{status: 200}
}
func (b *blockingExporter) close() {}

func testStore(t *testing.T, spans ...string) *spool.Store {
	t.Helper()
	store, err := spool.Open(filepath.Join(t.TempDir(), "spool.db"), spool.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	res, _ := proto.Marshal(&resourcepb.Resource{})
	for _, name := range spans {
		sp, _ := proto.Marshal(&tracepb.Span{Name: name, TraceId: make([]byte, 16), SpanId: []byte(fmt.Sprintf("%8s", name))})
		if err := store.Update(func(tx *spool.Tx) error { return tx.Enqueue(res, sp, time.Now()) }); err != nil {
			t.Fatal(err)
		}
	}
	return store
}

// status reports an export in flight for longer than the timeout as
// failing, and since when.
func TestStatusFailingWhileAnExportHangs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := testStore(t, "a")
		exp := &blockingExporter{called: make(chan struct{}), release: make(chan struct{})}
		set := Settings{Logger: slog.New(slog.DiscardHandler), Now: time.Now, ExportTimeout: 30 * time.Second,
			ExportBatch: 10, ExportMaxBytes: 1 << 20, ExportBackoff: Backoff{}.withDefaults()}
		f := newForwarder(set, store, exp)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { f.run(ctx); close(done) }()
		<-exp.called
		started := time.Now()
		time.Sleep(29 * time.Second)
		if h := f.health(); !h.OK {
			t.Fatalf("in flight within the timeout: %+v", h)
		}
		time.Sleep(2 * time.Second)
		h := f.health()
		if h.OK || !h.FailingSince.Equal(started) || !strings.Contains(h.Message, "waited 31s") || h.Hint == "" {
			t.Fatalf("in flight beyond the timeout: %+v", h)
		}
		close(exp.release)
		synctest.Wait()
		if h := f.health(); !h.OK {
			t.Fatalf("after the answer: %+v", h)
		}
		cancel()
		<-done
	})
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
			if w := td.exportWarning(); !strings.Contains(w, "refuses") || !strings.Contains(w, tt.hint) {
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

// failingDeadLetters is the spool with dead-letter writes failing.
type failingDeadLetters struct{ *spool.Store }

func (failingDeadLetters) MoveToDeadLetters([]spool.Item, string, time.Time) error {
	return errors.New("injected: disk full")
}

// A dead letter that cannot be written is a failed attempt (backoff, and
// reported): the span stays in the spool, nothing says it was handled.
func TestFailedDeadLetterWriteKeepsTheSpan(t *testing.T) {
	store := testStore(t, "a", "poison")
	exp := exporterFunc(func(rs []*tracepb.ResourceSpans) exportResult {
		for _, s := range rs[0].ScopeSpans[0].Spans {
			if s.Name == "poison" {
				return exportResult{err: errors.New("bad span"), status: 400}
			}
		}
		return exportResult{status: 200}
	})
	set := Settings{Logger: slog.New(slog.DiscardHandler), Now: time.Now, ExportTimeout: time.Second,
		ExportBatch: 10, ExportMaxBytes: 1 << 20, ExportBackoff: Backoff{}.withDefaults()}
	f := newForwarder(set, store, exp)
	f.writes = failingDeadLetters{store}
	items, _ := store.Peek(10, 1<<20)
	res := f.send(t.Context(), items)
	if res.err == nil || !strings.Contains(res.err.Error(), "spool write failed") {
		t.Fatalf("send: %v, want the failed dead-letter write reported", res.err)
	}
	left, _ := store.Peek(10, 1<<20)
	if len(left) != 1 {
		t.Fatalf("%d span(s) left in the spool, want the poisoned one", len(left))
	}
	if st, _ := store.Stats(); st.DeadLetters != 0 || st.Counters["exported"] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

type exporterFunc func([]*tracepb.ResourceSpans) exportResult

func (e exporterFunc) export(_ context.Context, rs []*tracepb.ResourceSpans) exportResult {
	return e(rs)
}
func (e exporterFunc) close() {}

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

// faultyFile fails its next write after writing half of it.
type faultyFile struct {
	*os.File
	fail *bool
}

func (f faultyFile) Write(p []byte) (int, error) {
	if *f.fail {
		*f.fail = false
		n, _ := f.File.Write(p[:len(p)/2])
		return n, errors.New("injected: no space left on device")
	}
	return f.File.Write(p)
}

// A failed write leaves only complete lines in the sink file and the batch
// unexported; the retry then writes valid lines.
func TestFileSinkPartialWriteIsCutOff(t *testing.T) {
	home := t.TempDir()
	fail := false
	td := startTestDaemon(t, home, config.Target{}, nil)
	sink := td.fwd.exp.(*fileSink)
	sink.mu.Lock()
	open := sink.open
	sink.open = func(p string) (sinkFile, error) {
		f, err := open(p)
		if err != nil {
			return nil, err
		}
		return faultyFile{f.(*os.File), &fail}, nil
	}
	sink.mu.Unlock()
	tr := filepath.Join(home, "s.jsonl")
	writeTranscript(t, tr, "a")
	hook(t, home, event("s", "SessionStart", tr))
	if res := td.flush(t, 5*time.Second); !res.Done {
		t.Fatalf("first flush: %+v", res)
	}
	sink.mu.Lock()
	fail = true
	sink.mu.Unlock()
	writeTranscript(t, tr, "b", "c")
	if res := td.flush(t, 5*time.Second); !res.Done || res.Exported != 2 {
		t.Fatalf("flush through a failed write: %+v", res)
	}
	st, _ := td.Status()
	if st.Counters["failed"] < 1 || st.Counters["exported"] != 4 {
		t.Errorf("counters %v: want a failed attempt and 4 spans exported (not 6)", st.Counters)
	}
	got := readSinkSpans(t, SinkFile(td.set.Paths.SinkDir))
	slices.Sort(got)
	if strings.Join(got, ",") != "a,b,c,hook SessionStart" {
		t.Errorf("sink holds %v", got)
	}
}

// A torn last line (a crash mid-write) is cut off before the next batch.
func TestFileSinkCutsATornLastLine(t *testing.T) {
	dir := t.TempDir()
	sink, err := newFileSink(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if res := sink.export(t.Context(), []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{Name: "one"}}}}}}); res.err != nil {
		t.Fatal(res.err)
	}
	f, _ := os.OpenFile(SinkFile(dir), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"resourceSpans":[{"scopeSp`)
	f.Close()
	if res := sink.export(t.Context(), []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{Name: "two"}}}}}}); res.err != nil {
		t.Fatal(res.err)
	}
	if got := readSinkSpans(t, SinkFile(dir)); strings.Join(got, ",") != "one,two" {
		t.Errorf("sink holds %v", got)
	}
}

// readSinkSpans parses every line of a sink file as OTLP/JSON and returns
// the span names; a line that does not parse fails the test.
func readSinkSpans(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Errorf("sink file ends in a partial line: %q", b[max(0, len(b)-40):])
	}
	var names []string
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var req struct {
			ResourceSpans []struct {
				ScopeSpans []struct {
					Spans []struct {
						Name string `json:"name"`
					} `json:"spans"`
				} `json:"scopeSpans"`
			} `json:"resourceSpans"`
		}
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			t.Errorf("invalid line %q: %v", sc.Text(), err)
			continue
		}
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					names = append(names, s.Name)
				}
			}
		}
	}
	return names
}
