package catalog

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/internal/testkit"
)

// TestCodexListedAndRendered: a Codex CLI rollout under CODEX_HOME is
// listed by its session id, summarised with its first prompt as title and
// its session_meta cwd as project, replayed through its builder, and
// resolved by id prefix or path.
func TestCodexListedAndRendered(t *testing.T) {
	const session = "01a24684-8e7e-74b1-8d67-a95e98c76505"
	src := filepath.Join(testkit.Fixtures(t), "codex-0.171.0", "tool", "rollout-2026-12-05T14-03-42-"+session+".jsonl")
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(t.TempDir(), ".codex")
	path := filepath.Join(home, "sessions", "2026", "12", "05", filepath.Base(src))
	write(t, path, string(data), time.Now())
	write(t, filepath.Join(home, "sessions", "2026", "12", "05", "notes.jsonl"), "{}\n", time.Now())
	o := Options{Homes: map[string]string{genai.AgentCodex: home}, Agent: genai.AgentCodex}

	files, roots, err := Find(o)
	if err != nil || len(files) != 1 || len(roots) != 1 || roots[0].Dir != filepath.Join(home, "sessions") {
		t.Fatalf("Find: %v %+v %+v", err, files, roots)
	}
	if f := files[0]; f.Agent != genai.AgentCodex || f.Session != session || f.Path != path {
		t.Fatalf("found %+v", f)
	}
	s, err := Summarize(context.Background(), o, files[0])
	if err != nil {
		t.Fatal(err)
	}
	if s.Title != "List the files here" || s.Project != "/home/dev/work-codex-tool" || s.Turns != 1 || s.ToolCalls != 1 ||
		s.ModelCalls != 2 || s.Model != "mock-model" || s.Version != "0.171.0" || !s.Replayed {
		t.Errorf("summary = %+v", s)
	}
	if s.Usage == nil || *s.Usage != (Usage{Input: 311, Output: 32, CacheRead: 61}) {
		t.Errorf("usage = %+v", s.Usage)
	}
	for _, q := range []string{"01a24684-8e7e", path} {
		f, err := Resolve(Options{Homes: o.Homes}, q)
		if err != nil || f.Agent != genai.AgentCodex || f.Session != session {
			t.Errorf("Resolve(%s) = %+v, %v", q, f, err)
		}
	}
	spans, _, err := Load(context.Background(), o, files[0])
	if err != nil || len(spans) != 4 {
		t.Errorf("Load: %d spans, %v; want the turn, two model calls and a tool call", len(spans), err)
	}
}
