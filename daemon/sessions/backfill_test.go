package sessions

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/control"
	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/transcript"
	_ "github.com/weave-agentd/weave-agentd/transcript/agents"
)

// A folder given to backfill is its agent's by the agents' homes, then by
// their layouts, and its sessions are picked by that agent's IsSession.
func TestBackfillTellsTheAgentOfAPath(t *testing.T) {
	home := t.TempDir()
	cursorHome := filepath.Join(home, "elsewhere", "cursor-home") // no "/.cursor/" in it
	for _, p := range []string{
		filepath.Join(cursorHome, "projects/p/agent-transcripts/c1/c1.jsonl"),
		filepath.Join(cursorHome, "projects/p/agent-transcripts/c2.txt"),
		filepath.Join(cursorHome, "projects/p/agent-transcripts/c1/subagents/s.jsonl"),
		filepath.Join(home, "copy/projects/p/3f1c0000-0000-4000-8000-000000000001.jsonl"),
		filepath.Join(home, "copy/projects/p/agent-a1.jsonl"),
	} {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	nop := func(string, string, string) transcript.Builder { return nopBuilder{} }
	b := &backfiller{set: Settings{Logger: slog.New(slog.DiscardHandler),
		Builders:   map[string]BuilderFactory{genai.AgentClaudeCode: nop, genai.AgentCursor: nop},
		AgentHomes: map[string]string{genai.AgentCursor: cursorHome, genai.AgentClaudeCode: filepath.Join(home, ".claude")}}}
	files, skipped, err := b.collect(control.BackfillArgs{Paths: []string{filepath.Join(cursorHome, "projects"), filepath.Join(home, "copy")}}, time.Time{})
	if err != nil || len(skipped) != 0 {
		t.Fatalf("collect: %v, skipped %v", err, skipped)
	}
	got := map[string]string{}
	for _, f := range files {
		got[f.agent+" "+f.session] = f.path
	}
	for _, want := range []string{genai.AgentCursor + " c1", genai.AgentCursor + " c2", genai.AgentClaudeCode + " 3f1c0000-0000-4000-8000-000000000001"} {
		if _, ok := got[want]; !ok {
			t.Errorf("%s not found", want)
		}
	}
	if len(got) != 3 {
		t.Errorf("found %v, want 3 sessions", got)
	}
}
