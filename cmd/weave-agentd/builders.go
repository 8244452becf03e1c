package main

import (
	"log/slog"
	"path/filepath"

	"github.com/weave-agentd/weave-agentd/config"
	"github.com/weave-agentd/weave-agentd/daemon"
	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/redact"
	"github.com/weave-agentd/weave-agentd/transcript"
	"github.com/weave-agentd/weave-agentd/transcript/claude"
	"github.com/weave-agentd/weave-agentd/transcript/cursor"
)

// claudeHome is Claude Code's config dir: $CLAUDE_CONFIG_DIR, else ~/.claude.
func claudeHome(getenv func(string) string) string {
	if d := getenv("CLAUDE_CONFIG_DIR"); d != "" {
		return d
	}
	return filepath.Join(getenv("HOME"), ".claude")
}

// cursorHome is Cursor's folder, ~/.cursor.
func cursorHome(getenv func(string) string) string {
	return filepath.Join(getenv("HOME"), ".cursor")
}

// defaultBuilders wires the span builders of every supported agent.
func defaultBuilders(getenv func(string) string, cfg *config.Config, log *slog.Logger) (map[string]daemon.BuilderFactory, error) {
	chome, cuhome := claudeHome(getenv), cursorHome(getenv)
	metadata := cfg.Content == "metadata" // no content in the builders' persisted state either
	red, err := redact.New(cfg)           // for the files a builder reads itself
	if err != nil {
		return nil, err
	}
	return map[string]daemon.BuilderFactory{
		genai.AgentClaudeCode: func(_, session, transcriptPath string) transcript.Builder {
			return claude.New(session, claude.Options{TranscriptPath: transcriptPath, ClaudeHome: chome,
				DropContent: metadata, Redact: red.Line,
				Logger: log.With("agent", genai.AgentClaudeCode, "session", session)})
		},
		genai.AgentCursor: func(_, session, transcriptPath string) transcript.Builder {
			return cursor.New(session, cursor.Options{TranscriptPath: transcriptPath, CursorHome: cuhome,
				CaptureUserEmail: cfg.CaptureUserEmail, DropContent: metadata,
				Logger: log.With("agent", genai.AgentCursor, "session", session)})
		},
	}, nil
}
