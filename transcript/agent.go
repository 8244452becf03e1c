package transcript

import (
	"log/slog"
)

// Agent is one coding agent: where it keeps its files, which of them are
// session transcripts, and the span builder of its sessions. Each agent is
// one package (transcript/claude, transcript/cursor) with a value that
// implements Agent, registered by one line in transcript/agents; the daemon,
// the catalog and the CLI only go through this interface.
type Agent interface {
	// Name is the agent's name in spans, the spool and on the wire
	// (genai.AgentClaudeCode).
	Name() string
	// Home is the folder where the agent keeps its files, given the
	// environment (an override such as CLAUDE_CONFIG_DIR or CODEX_HOME)
	// and the user's home folder.
	Home(getenv func(string) string, userHome string) string
	// Sessions are globs (path/filepath.Match patterns), relative to Home,
	// matching every file that may be a session's main transcript;
	// IsSession picks the main ones among them.
	Sessions() []string
	// IsSession reports whether the file at path, found by a glob of
	// Sessions or by walking a folder the user named, is a session's main
	// transcript (not a subagent's file, nor another kind of file).
	IsSession(path string) bool
	// Owns reports whether a path outside Home has the shape of this
	// agent's transcripts (a folder name only it uses).
	Owns(path string) bool
	// Session is the session id of a main transcript, from its path.
	Session(path string) string
	// Discover reports whether a transcript alone makes the session's
	// spans, so the daemon follows transcripts that no hook announced and
	// backfills them; false when the agent's spans come from its hooks.
	Discover() bool
	// NewBuilder makes the span builder of one session.
	NewBuilder(session string, o BuilderOptions) Builder
}

// BuilderOptions are what every agent's builder is given.
type BuilderOptions struct {
	// TranscriptPath is the session's main transcript; empty: learned from
	// hook events or found under Home.
	TranscriptPath string
	// Home is the agent's Home.
	Home string
	// DropContent is the `content = "metadata"` mode: no prompt, answer or
	// tool input/output is kept in the builder's persisted state.
	DropContent bool
	// CaptureUserEmail puts the user's email, when the agent reports it,
	// in the resource.
	CaptureUserEmail bool
	// Redact masks secrets in the files the builder reads itself; nil: none.
	Redact func([]byte) []byte
	// Logger receives debug notes.
	Logger *slog.Logger
}
