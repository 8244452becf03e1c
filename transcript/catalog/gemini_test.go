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

// TestGeminiConversation: a Gemini CLI chat file is listed under its
// session id (from its header), with its first prompt as title, its
// project from the project folder's .project_root, and replayed through
// its builder; named by path, even outside Gemini CLI's home, it is found
// as Gemini CLI's.
func TestGeminiConversation(t *testing.T) {
	fx := testkit.Fixtures(t)
	src, err := filepath.Glob(filepath.Join(fx, "gemini-0.61.0", "tool", "session-*.jsonl"))
	if err != nil || len(src) != 1 {
		t.Fatalf("fixture: %v %v", src, err)
	}
	body, err := os.ReadFile(src[0])
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	gemini := filepath.Join(home, ".gemini")
	proj := filepath.Join(gemini, "tmp", "work-gemini-tool")
	chat := filepath.Join(proj, "chats", filepath.Base(src[0]))
	write(t, chat, string(body), time.Time{})
	write(t, filepath.Join(proj, ".project_root"), "/home/dev/work-gemini-tool", time.Time{})
	const session = "253ce1a9-8a9c-4cfe-8ebd-f86b09cf40bd"
	o := Options{Homes: map[string]string{genai.AgentGeminiCLI: gemini}, Agent: genai.AgentGeminiCLI}

	files, _, err := Find(o)
	if err != nil || len(files) != 1 || files[0].Session != session || files[0].Agent != genai.AgentGeminiCLI {
		t.Fatalf("Find: %+v %v", files, err)
	}
	s, err := Summarize(context.Background(), o, files[0])
	if err != nil {
		t.Fatal(err)
	}
	if !s.Replayed || s.Title != "List the files here" || s.Project != "/home/dev/work-gemini-tool" || s.Turns != 1 ||
		s.ModelCalls != 2 || s.ToolCalls != 1 || s.Usage == nil || s.Usage.Total() != 350 || s.Model != "gemini-2.5-flash" {
		t.Fatalf("summary: %+v usage %+v", s, s.Usage)
	}
	if f, err := Resolve(o, session[:8]); err != nil || f.Path != chat {
		t.Fatalf("Resolve by id prefix: %+v %v", f, err)
	}
	elsewhere := filepath.Join(t.TempDir(), "chats", filepath.Base(src[0]))
	write(t, elsewhere, string(body), time.Time{})
	if f, err := Resolve(Options{}, elsewhere); err != nil || f.Agent != genai.AgentGeminiCLI || f.Session != session {
		t.Fatalf("Resolve by path: %+v %v", f, err)
	}
}
