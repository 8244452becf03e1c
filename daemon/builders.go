package daemon

import (
	"log/slog"
	"path/filepath"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/transcript"
	"github.com/weave-agentd/weave-agentd/transcript/claude"
)

// ClaudeHome is Claude Code's config dir: $CLAUDE_CONFIG_DIR, else ~/.claude.
func ClaudeHome(getenv func(string) string) string {
	if d := getenv("CLAUDE_CONFIG_DIR"); d != "" {
		return d
	}
	return filepath.Join(getenv("HOME"), ".claude")
}

// DefaultBuilders wires the span builders of every supported agent.
func DefaultBuilders(getenv func(string) string, log *slog.Logger) map[string]BuilderFactory {
	home := ClaudeHome(getenv)
	return map[string]BuilderFactory{
		genai.AgentClaudeCode: func(_, session, transcriptPath string) transcript.Builder {
			return claude.New(session, claude.Options{TranscriptPath: transcriptPath, ClaudeHome: home,
				Logger: log.With("agent", genai.AgentClaudeCode, "session", session)})
		},
	}
}
