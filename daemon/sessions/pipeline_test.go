package sessions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/weave-agentd/weave-agentd/config"
	"github.com/weave-agentd/weave-agentd/control"
	"github.com/weave-agentd/weave-agentd/daemon/status"
	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/hooks"
	"github.com/weave-agentd/weave-agentd/redact"
	"github.com/weave-agentd/weave-agentd/spool"
	"github.com/weave-agentd/weave-agentd/transcript"
	_ "github.com/weave-agentd/weave-agentd/transcript/agents"
)

// countBuilder makes one span per transcript line (named by the line);
// onLine sees the count of lines fed so far, state may fail MarshalState.
type countBuilder struct {
	session string
	path    string
	out     []genai.Span
	n       int
	onLine  func(n int)
	onHook  func(transcript.Event)
	state   func() error
}

func (b *countBuilder) Line(_ string, line []byte) {
	b.n++
	tr := genai.NewTraceID("test", b.session, "t")
	b.out = append(b.out, genai.Span{TraceID: tr, SpanID: genai.NewSpanID(tr, "line", string(line)), Name: string(line),
		Start: time.Unix(1700000000, 0), End: time.Unix(1700000001, 0),
		Attrs:    []attribute.KeyValue{attribute.String("gen_ai.conversation.id", b.session)},
		Resource: []attribute.KeyValue{attribute.String("service.name", "claude-code")}})
	if b.onLine != nil {
		b.onLine(b.n)
	}
}
func (b *countBuilder) Hook(ev transcript.Event) {
	if b.onHook != nil {
		b.onHook(ev)
	}
}
func (b *countBuilder) Tick(time.Time)          {}
func (b *countBuilder) Take() []genai.Span      { out := b.out; b.out = nil; return out }
func (b *countBuilder) Files() []string         { return []string{b.path} }
func (b *countBuilder) Idle() bool              { return true }
func (b *countBuilder) Stats() transcript.Stats { return transcript.Stats{} }
func (b *countBuilder) MarshalState() ([]byte, error) {
	if b.state != nil {
		if err := b.state(); err != nil {
			return nil, err
		}
	}
	return json.Marshal(b.n)
}
func (b *countBuilder) RestoreState(s []byte) error { return json.Unmarshal(s, &b.n) }

// startActors starts the sessions component on a fresh spool with the
// builder newB makes for every Claude Code session.
func startActors(t *testing.T, root string, newB func(session, path string) *countBuilder) (*Actors, *spool.Store) {
	t.Helper()
	store, err := spool.Open(filepath.Join(t.TempDir(), "spool.db"), spool.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return startActorsOn(t, store, root, newB), store
}

// startActorsOn starts the sessions component on store (see startActors).
func startActorsOn(t *testing.T, store *spool.Store, root string, newB func(session, path string) *countBuilder) *Actors {
	t.Helper()
	cfg, _ := config.Load("")
	red, err := redact.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := New(Settings{TickInterval: time.Hour, HookAgents: map[string]string{hooks.AgentClaude: genai.AgentClaudeCode},
		Builders: map[string]BuilderFactory{genai.AgentClaudeCode: func(_, s, p string) transcript.Builder { return newB(s, p) }},
		Discover: []DiscoverRoot{{Agent: genai.AgentClaudeCode, Dir: root}}}, store, red, &status.Health{})
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Shutdown(context.Background()) })
	return c
}

// writeBigTranscript writes lines of 1 KiB until the file holds more than
// size bytes, and returns how many.
func writeBigTranscript(t *testing.T, path string, size int) int {
	t.Helper()
	var sb strings.Builder
	n := 0
	for ; sb.Len() <= size; n++ {
		fmt.Fprintf(&sb, "%08d %s\n", n, strings.Repeat("x", 1014))
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(sb.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return n
}

func spoolSpans(t *testing.T, store *spool.Store) int64 {
	t.Helper()
	st, err := store.Stats()
	if err != nil {
		t.Fatal(err)
	}
	return st.Counters[spool.CounterSpans]
}

func flushActor(a *actor) error {
	done := make(chan error, 1)
	a.requestFlush(done, false)
	return <-done
}

// An actor reading a file to its end commits each stepBudget of input in a
// goroutine while it reads, redacts and builds the next (before, it waited
// for the encoding and the bbolt commit between reads, so one session used
// one core). The commit is held here (the resource encoder is locked): the
// builder must still be fed the lines after the first stepBudget. Then every
// line is stored once.
func TestActorReadsOnWhileItsCommitIsWritten(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, "s.jsonl")
	lines := writeBigTranscript(t, path, stepBudget+stepBudget/2)
	past := make(chan struct{})
	var once sync.Once
	firstStep := stepBudget / 1024 // lines in the first step
	c, store := startActors(t, root, func(s, p string) *countBuilder {
		return &countBuilder{session: s, path: p, onLine: func(n int) {
			if n > firstStep+10 {
				once.Do(func() { close(past) })
			}
		}}
	})
	c.sess.res.mu.Lock()
	locked := true
	defer func() {
		if locked {
			c.sess.res.mu.Unlock()
		}
	}()
	a := c.sess.actor(genai.AgentClaudeCode, "s", path)
	done := make(chan error, 1)
	a.requestFlush(done, false)
	select {
	case <-past:
	case <-time.After(30 * time.Second):
		t.Fatal("the actor read nothing more while its first commit was being written")
	}
	c.sess.res.mu.Unlock()
	locked = false
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := spoolSpans(t, store); got != int64(lines) {
		t.Fatalf("%d spans stored for %d lines", got, lines)
	}
}

// A commit that fails while the one before is still being written: that
// one completes, the lines read since are read again after the reload, and
// in the end every line is stored exactly once.
func TestFailedCommitInThePipelineLosesAndRepeatsNothing(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, "s.jsonl")
	lines := writeBigTranscript(t, path, stepBudget+stepBudget/2)
	var calls atomic.Int32 // over every builder: a reload makes a new one
	c, store := startActors(t, root, func(s, p string) *countBuilder {
		return &countBuilder{session: s, path: p, state: func() error {
			if calls.Add(1) == 2 {
				return errors.New("injected")
			}
			return nil
		}}
	})
	a := c.sess.actor(genai.AgentClaudeCode, "s", path)
	if err := flushActor(a); err == nil {
		t.Fatal("the injected failure was not reported")
	}
	if err := flushActor(a); err != nil {
		t.Fatal(err)
	}
	if got := spoolSpans(t, store); got != int64(lines) {
		t.Fatalf("%d spans stored for %d lines", got, lines)
	}
}

// A backfill reads on only while the export keeps up: with nothing taken
// from the spool, it stops once more than the backlog waits there (before,
// it read the whole file: the spool, and the daemon's mapped spool pages,
// grew with the history when the target was slower than the reading). Once
// the spans are taken, it goes on and stores every line once.
func TestBackfillWaitsForTheExportBeyondTheBacklog(t *testing.T) {
	root := filepath.Join(t.TempDir(), "projects")
	path := filepath.Join(root, "-p", "3f1c0000-0000-4000-8000-000000000001.jsonl")
	lines := writeBigTranscript(t, path, 2*stepBudget+stepBudget/2)
	var fed atomic.Int64
	c, store := startActors(t, root, func(s, p string) *countBuilder {
		return &countBuilder{session: s, path: p, onLine: func(int) { fed.Add(1) }}
	})
	c.sess.backlog = 64 << 10
	if _, err := c.Backfill(control.BackfillArgs{}); err != nil {
		t.Fatal(err)
	}
	progress := func() control.BackfillProgress {
		p, _ := c.BackfillProgress()
		return p
	}
	// Give it time to read on if it would.
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline) && !progress().Done; {
		time.Sleep(10 * time.Millisecond)
	}
	if p := progress(); p.Done || fed.Load() >= int64(lines) {
		t.Fatalf("the backfill read the whole file (%d of %d lines, done %v) while nothing was exported", fed.Load(), lines, p.Done)
	}
	if n := fed.Load(); n > int64(2*stepBudget/1024+100) {
		t.Fatalf("%d lines read past the backlog; at most two steps expected", n)
	}
	// The export: take what the spool holds until the backfill is done.
	for !progress().Done {
		items, err := store.Peek(512, 4<<20)
		if err != nil {
			t.Fatal(err)
		}
		if err := store.Ack(items); err != nil {
			t.Fatal(err)
		}
		if len(items) == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	if p := progress(); p.Error != "" {
		t.Fatal(p.Error)
	}
	if got := spoolSpans(t, store); got != int64(lines) {
		t.Fatalf("%d spans stored for %d lines", got, lines)
	}
}

// A session's queue holds no payload: events wait for a busy actor in the
// spool, and the actor reads each back when it applies it. Before, the
// queue held every payload (up to hooks.MaxFrame each) until the actor got
// to it: with the actor held in its first event here, the heap grew by the
// payloads of all the events delivered meanwhile (the daemon's live heap
// went to 43 MiB in TestManyLargeFramesAtOnceKeepTheHeapBounded on a loaded
// machine). Every event is still applied once, in order, with its payload.
func TestQueuedEventsLeaveTheirPayloadsInTheSpool(t *testing.T) {
	const queued, size = 8, 1 << 20
	inHook, release := make(chan struct{}), make(chan struct{})
	var applied []string
	c, store := startActors(t, t.TempDir(), func(s, p string) *countBuilder {
		return &countBuilder{session: s, path: p, onHook: func(ev transcript.Event) {
			var p struct{ Message string }
			if err := json.Unmarshal(ev.Payload, &p); err != nil || len(p.Message) != size {
				t.Errorf("event %s applied with a payload of %d bytes (%v), want its message of %d", ev.ID, len(ev.Payload), err, size)
			}
			applied = append(applied, ev.ID)
			if len(applied) == 1 {
				close(inHook)
				<-release
			}
		}}
	})
	deliver := func(i int) { storeAndDeliver(t, c, store, i, size) }
	deliver(0)
	<-inHook // the actor is busy with the first event
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	for i := 1; i <= queued; i++ {
		deliver(i)
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	grown := int64(ms.HeapAlloc) - int64(before)
	close(release)
	if grown > queued*size/2 {
		t.Errorf("the heap grew by %d KiB with %d events of %d KiB queued: the queue holds their payloads", grown>>10, queued, size>>10)
	}
	if err := c.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := []string{"e0", "e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8"}
	if fmt.Sprint(applied) != fmt.Sprint(want) {
		t.Errorf("applied %v, want %v", applied, want)
	}
	if st, _ := store.Stats(); st.PendingEvents != 0 {
		t.Errorf("%d events still pending after the flush", st.PendingEvents)
	}
}

// storeAndDeliver stores hook event "e<i>" of session s, its payload's
// message of size bytes, as ingest does, and delivers it to the actors.
func storeAndDeliver(t *testing.T, c *Actors, store *spool.Store, i, size int) {
	t.Helper()
	ev := &hooks.Event{ID: fmt.Sprintf("e%d", i), Agent: hooks.AgentClaude, Name: "Notification", Session: "s",
		Payload: json.RawMessage(`{"session_id":"s","message":"` + strings.Repeat("x", size) + `"}`)}
	rec, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var seq uint64
	if err := store.Update(func(t *spool.Tx) (err error) {
		seq, _, err = t.PutEvent(ev.ID, rec, time.Now())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	c.Deliver(seq, ev, &hooks.Common{SessionID: "s"})
}

// Shutdown waits for the event an actor is applying, not for its whole
// queue: the rest stay in the spool and are applied, in order, at the next
// start. Before, the actor applied and committed everything it had taken
// from its queue first, which on a loaded machine took longer than the
// shutdown deadline (TestManyLargeFramesAtOnceKeepTheHeapBounded: a few
// 8 MiB events).
func TestShutdownWaitsForOneEventNotTheQueue(t *testing.T) {
	// e0 holds the actor while e1..e8 are queued; it then takes them in one
	// step, and e1 holds it while the component stops.
	held := map[string]chan struct{}{"e0": make(chan struct{}), "e1": make(chan struct{})}
	release := map[string]chan struct{}{"e0": make(chan struct{}), "e1": make(chan struct{})}
	var applied []string
	newB := func(s, p string) *countBuilder {
		return &countBuilder{session: s, path: p, onHook: func(ev transcript.Event) {
			applied = append(applied, ev.ID)
			if h, ok := held[ev.ID]; ok && len(applied) <= 2 {
				close(h)
				<-release[ev.ID]
			}
		}}
	}
	root := t.TempDir()
	c, store := startActors(t, root, newB)
	storeAndDeliver(t, c, store, 0, 10)
	<-held["e0"]
	for i := 1; i <= 8; i++ {
		storeAndDeliver(t, c, store, i, 10)
	}
	close(release["e0"])
	<-held["e1"]
	stopped := make(chan error, 1)
	go func() { stopped <- c.Shutdown(context.Background()) }()
	<-c.sess.ctx.Done() // stopping
	close(release["e1"])
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(applied) != "[e0 e1]" {
		t.Errorf("applied %v by the stop, want [e0 e1]: only the event being applied when it began", applied)
	}
	if st, _ := store.Stats(); st.PendingEvents != 7 {
		t.Errorf("%d events pending after the stop, want the 7 not applied", st.PendingEvents)
	}
	c = startActorsOn(t, store, root, newB)
	if err := c.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if want := "[e0 e1 e2 e3 e4 e5 e6 e7 e8]"; fmt.Sprint(applied) != want {
		t.Errorf("applied %v, want %v: each event once, in order", applied, want)
	}
	if st, _ := store.Stats(); st.PendingEvents != 0 {
		t.Errorf("%d events still pending after the restart's flush", st.PendingEvents)
	}
}
