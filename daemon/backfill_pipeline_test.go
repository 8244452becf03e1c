package daemon

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/config"
	"github.com/weave-agentd/weave-agentd/control"
	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/spool"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// signalBuilder is a lineBuilder that closes past once it has been fed
// more than after lines.
type signalBuilder struct {
	lineBuilder
	after int
	past  chan struct{}
	once  *sync.Once
}

func (b *signalBuilder) Line(path string, line []byte) {
	b.lineBuilder.Line(path, line)
	if b.n > b.after {
		b.once.Do(func() { close(b.past) })
	}
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
	if err := os.WriteFile(path, []byte(sb.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return n
}

// An actor reading a file to its end commits each stepBudget of input in a
// goroutine while it reads, redacts and builds the next (before, it waited
// for the encoding and the bbolt commit between reads, so one session used
// one core). The commit is held here (the resource encoder is locked): the
// builder must still be fed the lines after the first stepBudget. Then every
// line is stored once.
func TestActorReadsOnWhileItsCommitIsWritten(t *testing.T) {
	home := t.TempDir()
	path := filepath.Join(home, "s.jsonl")
	lines := writeBigTranscript(t, path, stepBudget+stepBudget/2)
	past := make(chan struct{})
	firstStep := stepBudget / 1024 // lines in the first step
	td := startTestDaemon(t, home, config.Target{}, func(s *Settings) {
		s.Builders = map[string]BuilderFactory{genai.AgentClaudeCode: func(_, sess, p string) transcript.Builder {
			return &signalBuilder{lineBuilder: lineBuilder{session: sess, path: p}, after: firstStep + 10, past: past, once: &sync.Once{}}
		}}
	})
	td.sess.res.mu.Lock()
	locked := true
	defer func() {
		if locked {
			td.sess.res.mu.Unlock()
		}
	}()
	a := td.sess.actor(genai.AgentClaudeCode, "s", path)
	done := make(chan error, 1)
	a.requestFlush(done, false)
	select {
	case <-past:
	case <-time.After(30 * time.Second):
		t.Fatal("the actor read nothing more while its first commit was being written")
	}
	td.sess.res.mu.Unlock()
	locked = false
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st, err := td.store.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Counters[spool.CounterSpans]; got != int64(lines) {
		t.Fatalf("%d spans stored for %d lines", got, lines)
	}
}

// failingStateBuilder is a lineBuilder whose MarshalState fails on the
// fail-th call of all its instances (a reload makes a new one).
type failingStateBuilder struct {
	lineBuilder
	calls *atomic.Int32
	fail  int32
}

func (b *failingStateBuilder) MarshalState() ([]byte, error) {
	if b.calls.Add(1) == b.fail {
		return nil, errors.New("injected")
	}
	return b.lineBuilder.MarshalState()
}

// A commit that fails while the one before is still being written: that
// one completes, the lines read since are read again after the reload, and
// in the end every line is stored exactly once.
func TestFailedCommitInThePipelineLosesAndRepeatsNothing(t *testing.T) {
	home := t.TempDir()
	path := filepath.Join(home, "s.jsonl")
	lines := writeBigTranscript(t, path, stepBudget+stepBudget/2)
	var calls atomic.Int32
	td := startTestDaemon(t, home, config.Target{}, func(s *Settings) {
		s.Builders = map[string]BuilderFactory{genai.AgentClaudeCode: func(_, sess, p string) transcript.Builder {
			return &failingStateBuilder{lineBuilder: lineBuilder{session: sess, path: p}, calls: &calls, fail: 2}
		}}
	})
	a := td.sess.actor(genai.AgentClaudeCode, "s", path)
	flush := func() error {
		done := make(chan error, 1)
		a.requestFlush(done, false)
		return <-done
	}
	if err := flush(); err == nil {
		t.Fatal("the injected failure was not reported")
	}
	if err := flush(); err != nil {
		t.Fatal(err)
	}
	st, err := td.store.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Counters[spool.CounterSpans]; got != int64(lines) {
		t.Fatalf("%d spans stored for %d lines", got, lines)
	}
}

// A backfill reads on only while the export keeps up: with the target
// holding its first request, it stops once more than the backlog waits in
// the spool (before, it read the whole file: the spool, and the daemon's
// mapped spool pages, grew with the history when the target was slower
// than the reading). When the target answers, it goes on and stores every
// line once.
func TestBackfillWaitsForTheExportBeyondTheBacklog(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	var once sync.Once
	open := func() { once.Do(func() { close(release) }) }
	defer open()
	home := t.TempDir()
	root := filepath.Join(home, "projects")
	proj := filepath.Join(root, "-p")
	if err := os.MkdirAll(proj, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(proj, "3f1c0000-0000-4000-8000-000000000001.jsonl")
	lines := writeBigTranscript(t, path, 2*stepBudget+stepBudget/2)
	old := time.Now().Add(-240 * time.Hour)
	os.Chtimes(path, old, old)
	var fed atomic.Int64
	td := startTestDaemon(t, home, config.Target{URL: srv.URL}, func(s *Settings) {
		s.Builders[genai.AgentClaudeCode] = func(_, sess, p string) transcript.Builder {
			return &countingBuilder{lineBuilder: lineBuilder{session: sess, path: p}, fed: &fed}
		}
		s.Discover = []DiscoverRoot{{Agent: genai.AgentClaudeCode, Dir: root}}
		s.DiscoverWindow = time.Nanosecond // the backfill, not discovery, reads it
	})
	td.sess.backlog = 64 << 10
	if _, err := td.bf.start(control.BackfillArgs{}); err != nil {
		t.Fatal(err)
	}
	progress := func() control.BackfillProgress {
		p, _ := td.bf.progress()
		return p
	}
	// Give it time to read on if it would.
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline) && !progress().Done; {
		time.Sleep(10 * time.Millisecond)
	}
	if p := progress(); p.Done || fed.Load() >= int64(lines) {
		t.Fatalf("the backfill read the whole file (%d of %d lines, done %v) while the target took nothing", fed.Load(), lines, p.Done)
	}
	if n := fed.Load(); n > int64(2*stepBudget/1024+100) {
		t.Fatalf("%d lines read past the backlog; at most two steps expected", n)
	}
	open()
	for !progress().Done {
		time.Sleep(10 * time.Millisecond)
	}
	if p := progress(); p.Error != "" {
		t.Fatal(p.Error)
	}
	st, err := td.store.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Counters[spool.CounterSpans]; got != int64(lines) {
		t.Fatalf("%d spans stored for %d lines", got, lines)
	}
}

// countingBuilder is a lineBuilder that counts the lines fed to it.
type countingBuilder struct {
	lineBuilder
	fed *atomic.Int64
}

func (b *countingBuilder) Line(path string, line []byte) {
	b.lineBuilder.Line(path, line)
	b.fed.Add(1)
}
