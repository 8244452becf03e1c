package claude

import (
	"path/filepath"
	"strings"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/hooks/hookconfig"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// Agent is Claude Code: home $CLAUDE_CONFIG_DIR, else ~/.claude;
// transcripts <home>/projects/<project folder>/<session>.jsonl. A session's
// subagents write <session>/subagents/agent-*.jsonl (the flat agent-*.jsonl
// beside the sessions in 2.0.x): its builder finds them.
type Agent struct{}

func init() { transcript.Register(Agent{}) }

func (Agent) Name() string { return genai.AgentClaudeCode }

func (Agent) Title() string { return "Claude Code" }

func (Agent) Aliases() []string { return []string{"claude", "claudecode", "cc"} }

func (Agent) Home(getenv func(string) string, userHome string) string {
	if d := getenv("CLAUDE_CONFIG_DIR"); d != "" {
		return d
	}
	return filepath.Join(userHome, ".claude")
}

func (Agent) Layout() transcript.Layout {
	return transcript.Layout{Root: "projects", Sessions: []string{filepath.Join("*", "*.jsonl")}}
}

func (Agent) IsSession(path string) bool {
	name := filepath.Base(path)
	return strings.HasSuffix(name, ".jsonl") && !strings.HasPrefix(name, "agent-") &&
		filepath.Base(filepath.Dir(path)) != "subagents"
}

// Owns: any transcript not claimed by another agent is Claude Code's.
func (Agent) Owns(string) bool { return false }

func (Agent) Session(path string) string { return strings.TrimSuffix(filepath.Base(path), ".jsonl") }

func (Agent) Discover() bool { return true }

func (Agent) NewBuilder(session string, o transcript.BuilderOptions) transcript.Builder {
	return New(session, Options{TranscriptPath: o.TranscriptPath, ClaudeHome: o.Home,
		DropContent: o.DropContent, Redact: o.Redact, Logger: o.Logger})
}

func (Agent) HookConfig() hookconfig.Agent { return hookconfig.Claude }
