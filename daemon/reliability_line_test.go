package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weave-agentd/weave-agentd/config"
	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/internal/testkit"
	"github.com/weave-agentd/weave-agentd/transcript"
	"github.com/weave-agentd/weave-agentd/transcript/claude"
)

// A 27 MB transcript line with a million content blocks, tailed, redacted
// and parsed by the real Claude Code builder: the heap stays well under
// 100 MiB (it went to ~600 MB). The line itself is held while it is read
// and parsed, and the redactor copies it once: that is most of the ~55 MiB
// live heap (~42 MiB without redaction).
func TestALineWithAMillionBlocksIsTailedWithinTheHeapLimit(t *testing.T) {
	home := t.TempDir()
	td := startTestDaemon(t, home, config.Target{URL: "http://127.0.0.1:1/v1/traces"}, func(s *Settings) {
		s.Builders = map[string]BuilderFactory{genai.AgentClaudeCode: func(_, session, path string) transcript.Builder {
			return claude.New(session, claude.Options{TranscriptPath: path})
		}}
	})
	p := filepath.Join(home, "s.jsonl")
	line := `{"type":"assistant","uuid":"a1","sessionId":"s","timestamp":"2026-01-01T10:00:01Z","message":{"id":"m1","role":"assistant","model":"claude-x","content":[` +
		strings.TrimSuffix(strings.Repeat(`{"type":"text","text":"a"},`, 1_000_000), ",") + "]}}\n"
	if err := os.WriteFile(p, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	line = ""
	stop := testkit.HeapPeak(memLimit)
	hook(t, home, event("s", "SessionStart", p))
	td.flush(t, 60e9)
	peak, live := stop()
	t.Logf("heap peak %d MiB, live heap peak %d MiB", peak>>20, live>>20)
	if st, _ := td.Status(); st.Counters["truncated_lines"] != 1 {
		t.Errorf("truncated_lines = %d, want 1", st.Counters["truncated_lines"])
	}
	if peak > 100<<20 {
		t.Errorf("a 27 MB line took the heap to %d MiB (%d MiB live)", peak>>20, live>>20)
	}
}
