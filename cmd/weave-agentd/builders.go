package main

import (
	"log/slog"
	"path/filepath"

	"github.com/weave-agentd/weave-agentd/daemon"
	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/transcript"
	"github.com/weave-agentd/weave-agentd/transcript/claude"
)

// claudeHome is Claude Code's config dir: $CLAUDE_CONFIG_DIR, else ~/.claude.
func claudeHome(getenv func(string) string) string {
	if d := getenv("CLAUDE_CONFIG_DIR"); d != "" {
		return d
	}
	return filepath.Join(getenv("HOME"), ".claude")
}

// defaultBuilders wires the span builders of every supported agent.
func defaultBuilders(getenv func(string) string, log *slog.Logger) map[string]daemon.BuilderFactory {
	home := claudeHome(getenv)
	return map[string]daemon.BuilderFactory{
		genai.AgentClaudeCode: func(_, session, transcriptPath string) transcript.Builder {
			return claude.New(session, claude.Options{TranscriptPath: transcriptPath, ClaudeHome: home,
				Logger: log.With("agent", genai.AgentClaudeCode, "session", session)})
		},
	}
}
