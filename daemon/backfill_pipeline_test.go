package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/config"
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
	lines := writeBigTranscript(t, path, 2*stepBudget+stepBudget/2)
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
