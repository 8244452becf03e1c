package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
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
