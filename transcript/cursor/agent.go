package cursor

import (
	"path/filepath"
	"strings"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/hooks/hookconfig"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// Agent is Cursor (the IDE and cursor-agent): home ~/.cursor; transcripts
// <home>/projects/<slug>/agent-transcripts/<id>/<id>.jsonl (2026.10), flat
// <id>.jsonl (early CLI) or <id>.txt (before Feb 2026). Subagents write
// <id>/subagents/*.jsonl. Its spans come from hook events; the transcript
// only fills in text, so the daemon does not discover its transcripts.
type Agent struct{}

func init() { transcript.Register(Agent{}) }

var (
	_ transcript.Agent     = Agent{}
	_ transcript.Projector = Agent{}
	_ transcript.Counter   = Agent{}
)

func (Agent) Name() string { return genai.AgentCursor }

func (Agent) Title() string { return "Cursor" }

func (Agent) Aliases() []string { return []string{"cursor", "cursor-agent"} }

func (Agent) Home(_ func(string) string, userHome string) string {
	return filepath.Join(userHome, ".cursor")
}

func (Agent) Layout() transcript.Layout {
	dir := filepath.Join("*", "agent-transcripts")
	return transcript.Layout{Root: "projects",
		Sessions: []string{filepath.Join(dir, "*", "*.jsonl"), filepath.Join(dir, "*.jsonl"), filepath.Join(dir, "*.txt")}}
}

// IsSession: <id>.jsonl or <id>.txt in agent-transcripts, or <id>.jsonl in
// its own <id> folder (where subagents/ is too).
func (Agent) IsSession(path string) bool {
	ext := filepath.Ext(path)
	switch dir := filepath.Base(filepath.Dir(path)); {
	case ext != ".jsonl" && ext != ".txt":
		return false
	case dir == "agent-transcripts":
		return true
	default:
		return ext == ".jsonl" && dir == strings.TrimSuffix(filepath.Base(path), ext)
	}
}

func (Agent) Owns(path string) bool {
	p := filepath.ToSlash(path)
	return strings.Contains(p, "/.cursor/") || strings.Contains(p, "/agent-transcripts/")
}

func (Agent) Session(path string) string {
	return strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
}

func (Agent) Discover() bool { return false }

func (Agent) NewBuilder(session string, o transcript.BuilderOptions) transcript.Builder {
	return New(session, Options{TranscriptPath: o.TranscriptPath, CursorHome: o.Home,
		CaptureUserEmail: o.CaptureUserEmail, DropContent: o.DropContent, Logger: o.Logger})
}

func (Agent) HookConfig() hookconfig.Agent { return hookconfig.Cursor }
