package daemon

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/config"
	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// orderBuilder reads a main transcript and one more file (a subagent's),
// and records the order in which their lines arrive.
type orderBuilder struct {
	lineBuilder
	sub string
	mu  *sync.Mutex
	got *[]string
}

func (b *orderBuilder) Line(path string, line []byte) {
	var r struct{ N string }
	_ = json.Unmarshal(line, &r)
	b.mu.Lock()
	*b.got = append(*b.got, r.N)
	b.mu.Unlock()
	b.lineBuilder.Line(path, line)
}

func (b *orderBuilder) Files() []string {
	if b.path == "" {
		return nil
	}
	return []string{b.path, b.sub}
}

// The lines of a session's files are fed in the order they were written,
// their timestamps compared as times: 00:00:01Z is before 00:00:01.5Z,
// although "00:00:01Z" sorts after "00:00:01.5Z" as a string.
func TestSessionFilesMergedByTime(t *testing.T) {
	srv := newFakeOTLP(t)
	home := t.TempDir()
	main, sub := filepath.Join(home, "s.jsonl"), filepath.Join(home, "agent-x.jsonl")
	writeTranscript(t, main, `{"n":"m1","timestamp":"2025-01-01T00:00:01.5Z"}`, `{"n":"m2","timestamp":"2025-01-01T00:00:03Z"}`)
	writeTranscript(t, sub, `{"n":"s1","timestamp":"2025-01-01T00:00:01Z"}`, `{"n":"s2","timestamp":"2025-01-01T00:00:02Z"}`)
	var mu sync.Mutex
	var got []string
	td := startTestDaemon(t, home, config.Target{URL: srv.URL}, func(s *Settings) {
		s.Builders[genai.AgentClaudeCode] = func(_, session, path string) transcript.Builder {
			return &orderBuilder{lineBuilder: lineBuilder{session: session, path: path}, sub: sub, mu: &mu, got: &got}
		}
	})
	hook(t, home, event("s", "SessionStart", main))
	if res := td.flush(t, 5*time.Second); !res.Done {
		t.Fatalf("flush: %+v", res)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"s1", "m1", "s2", "m2"}; !slices.Equal(got, want) {
		t.Errorf("lines fed in the order %q, want %q", got, want)
	}
}
