package export

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/weave-agentd/weave-agentd/spool"
)

// blockingExporter hangs in export until released, whatever its context
// says: a request that escaped every timeout.
type blockingExporter struct {
	called  chan struct{}
	release chan struct{}
}

func (b *blockingExporter) export(context.Context, []byte) exportResult {
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
	enqueue(t, store, spans...)
	return store
}

// enqueue adds one span per name to the spool.
func enqueue(t *testing.T, store *spool.Store, spans ...string) {
	t.Helper()
	res, _ := proto.Marshal(&resourcepb.Resource{})
	for _, name := range spans {
		sp, _ := proto.Marshal(&tracepb.Span{Name: name, TraceId: make([]byte, 16), SpanId: []byte(fmt.Sprintf("%8s", name))})
		if err := store.Update(func(tx *spool.Tx) error { return tx.Enqueue(res, sp, time.Now()) }); err != nil {
			t.Fatal(err)
		}
	}
}

// status reports an export in flight for longer than the timeout as
// failing, and since when.
func TestStatusFailingWhileAnExportHangs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := testStore(t, "a")
		exp := &blockingExporter{called: make(chan struct{}), release: make(chan struct{})}
		set := Settings{Logger: slog.New(slog.DiscardHandler), Now: time.Now, Timeout: 30 * time.Second,
			Batch: 10, MaxBytes: 1 << 20}.withDefaults()
		f := newForwarder(set, store, exp)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { f.run(ctx); close(done) }()
		<-exp.called
		started := time.Now()
		time.Sleep(29 * time.Second)
		if h := f.Health(); !h.OK {
			t.Fatalf("in flight within the timeout: %+v", h)
		}
		time.Sleep(2 * time.Second)
		h := f.Health()
		if h.OK || !h.FailingSince.Equal(started) || !strings.Contains(h.Message, "waited 31s") || h.Hint == "" {
			t.Fatalf("in flight beyond the timeout: %+v", h)
		}
		close(exp.release)
		synctest.Wait()
		if h := f.Health(); !h.OK {
			t.Fatalf("after the answer: %+v", h)
		}
		cancel()
		<-done
	})
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
	set := Settings{Logger: slog.New(slog.DiscardHandler), Now: time.Now, Timeout: time.Second,
		Batch: 10, MaxBytes: 1 << 20}.withDefaults()
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

// exporterFunc is an exporter that decodes each request for a function.
type exporterFunc func([]*tracepb.ResourceSpans) exportResult

func (e exporterFunc) export(_ context.Context, body []byte) exportResult {
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		return exportResult{err: err, status: 400}
	}
	return e(req.ResourceSpans)
}

// encodeRequest is the encoded request of rs.
func encodeRequest(t testing.TB, rs ...*tracepb.ResourceSpans) []byte {
	t.Helper()
	b, err := proto.Marshal(&coltracepb.ExportTraceServiceRequest{ResourceSpans: rs})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
func (e exporterFunc) close() {}

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
	dir := t.TempDir()
	sink, err := newFileSink(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	fail := false
	open := sink.open
	sink.open = func(p string) (sinkFile, error) {
		f, err := open(p)
		if err != nil {
			return nil, err
		}
		return faultyFile{f.(*os.File), &fail}, nil
	}
	store := testStore(t, "a")
	set := Settings{Logger: slog.New(slog.DiscardHandler), Backoff: Backoff{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond}}.withDefaults()
	f := newForwarder(set, store, sink)
	if err := f.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Shutdown(context.Background()) })
	flush := func() {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		if err := f.Flush(ctx); err != nil {
			t.Fatalf("flush: %v", err)
		}
	}
	flush()
	sink.mu.Lock()
	fail = true
	sink.mu.Unlock()
	enqueue(t, store, "b", "c")
	flush()
	st, _ := store.Stats()
	if st.Counters["failed"] < 1 || st.Counters["exported"] != 3 {
		t.Errorf("counters %v: want a failed attempt and 3 spans exported (not 5)", st.Counters)
	}
	if got := readSinkSpans(t, SinkFile(dir)); strings.Join(got, ",") != "a,b,c" {
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
	if res := sink.export(t.Context(), encodeRequest(t, &tracepb.ResourceSpans{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{Name: "one"}}}}})); res.err != nil {
		t.Fatal(res.err)
	}
	f, _ := os.OpenFile(SinkFile(dir), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"resourceSpans":[{"scopeSp`)
	f.Close()
	if res := sink.export(t.Context(), encodeRequest(t, &tracepb.ResourceSpans{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{Name: "two"}}}}})); res.err != nil {
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

// A partial success names no span. Rejecting 1 of 12, it leaves a dead
// letter that names the 12 spans of the request (trace and span ids, names),
// so a user can find the refused one; the accepted spans are not re-sent
// to find it (a backend would count their usage twice).
func TestPartialSuccessDeadLetterNamesTheBatchSpans(t *testing.T) {
	var names []string
	for i := range 12 {
		names = append(names, fmt.Sprintf("span%02d", i))
	}
	store := testStore(t, names...)
	calls := 0
	exp := exporterFunc(func(rs []*tracepb.ResourceSpans) exportResult {
		calls++
		return exportResult{status: 200, rejected: 1, rejectMsg: "attribute value too long"}
	})
	f := newForwarder(Settings{Logger: slog.New(slog.DiscardHandler), Now: time.Now, Batch: 20, MaxBytes: 1 << 20}.withDefaults(), store, exp)
	items, _ := store.Peek(20, 1<<20)
	if res := f.send(t.Context(), items); res.err != nil {
		t.Fatalf("send: %v", res.err)
	}
	if calls != 1 {
		t.Errorf("%d requests: the accepted spans were sent again", calls)
	}
	dls, err := store.DeadLetters(10)
	if err != nil || len(dls) != 1 {
		t.Fatalf("dead letters %+v, %v: want one", dls, err)
	}
	b, _ := json.Marshal(dls[0])
	for _, name := range names {
		id := hex.EncodeToString([]byte(fmt.Sprintf("%8s", name)))
		if !strings.Contains(string(b), id) || !strings.Contains(string(b), name) {
			t.Fatalf("the dead letter does not name span %s (%s): %s", name, id, b)
		}
	}
	if !strings.Contains(dls[0].Reason, "1 of 12") || !strings.Contains(dls[0].Reason, "attribute value too long") {
		t.Errorf("reason %q", dls[0].Reason)
	}
	if st, _ := store.Stats(); st.Depth != 0 || st.Counters["dead_lettered"] != 1 {
		t.Errorf("stats %+v: want the batch acked, 1 span counted refused", st)
	}
}
