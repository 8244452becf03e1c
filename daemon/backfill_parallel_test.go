package daemon

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/config"
	"github.com/weave-agentd/weave-agentd/control"
	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// meetingBuilder is a lineBuilder whose first line waits until the other
// session's builder has a line too (or 20 s passed): the two meet only
// when the sessions are read at the same time.
type meetingBuilder struct {
	lineBuilder
	meet *meeting
}

type meeting struct {
	wg     sync.WaitGroup
	met    chan struct{}
	mu     sync.Mutex
	in     map[string]bool
	missed bool // a builder stopped waiting
}

func (b *meetingBuilder) Line(path string, line []byte) {
	m := b.meet
	m.mu.Lock()
	first := !m.in[b.session]
	m.in[b.session] = true
	m.mu.Unlock()
	if first {
		m.wg.Done()
		select {
		case <-m.met:
		case <-time.After(20 * time.Second):
			m.mu.Lock()
			m.missed = true
			m.mu.Unlock()
		}
	}
	b.lineBuilder.Line(path, line)
}

// A backfill reads several sessions at once (one actor each), so it uses
// more than one core; it used to flush one file after the other.
func TestBackfillReadsSessionsInParallel(t *testing.T) {
	home := t.TempDir()
	root := filepath.Join(home, "projects")
	proj := filepath.Join(root, "-p")
	if err := os.MkdirAll(proj, 0o700); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-240 * time.Hour)
	for _, id := range []string{"3f1c0000-0000-4000-8000-000000000001", "3f1c0000-0000-4000-8000-000000000002"} {
		p := filepath.Join(proj, id+".jsonl")
		writeTranscript(t, p, "a-"+id[len(id)-1:], "b-"+id[len(id)-1:])
		os.Chtimes(p, old, old)
	}
	m := &meeting{met: make(chan struct{}), in: map[string]bool{}}
	m.wg.Add(2)
	go func() { m.wg.Wait(); close(m.met) }()
	td := startTestDaemon(t, home, config.Target{}, func(s *Settings) {
		s.Builders[genai.AgentClaudeCode] = func(_, s, p string) transcript.Builder {
			return &meetingBuilder{lineBuilder: lineBuilder{session: s, path: p}, meet: m}
		}
		s.Discover = []DiscoverRoot{{Agent: genai.AgentClaudeCode, Dir: root}}
		s.DiscoverWindow = time.Nanosecond // the backfill, not discovery, reads them
	})
	start := time.Now()
	if _, err := td.sess.Backfill(control.BackfillArgs{}); err != nil {
		t.Fatal(err)
	}
	for {
		p, _ := td.sess.BackfillProgress()
		if p.Done {
			if p.Error != "" || p.FilesDone != 2 {
				t.Fatalf("backfill: %+v", p)
			}
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.missed {
		t.Fatalf("the sessions were not read at the same time (the backfill took %s)", time.Since(start).Round(time.Second))
	}
}
