package transcript

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/weave-agentd/weave-agentd/hooks/hookconfig"
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
	// Title is its name for people ("Claude Code"), in the CLI's output.
	Title() string
	// Aliases are its other names: the first is the one the hook client
	// and the CLI flags use ("claude", as hooks.AgentClaude), the others
	// what a user may type for it (--agent cc).
	Aliases() []string
	// Home is the folder where the agent keeps its files, given the
	// environment (an override such as CLAUDE_CONFIG_DIR or CODEX_HOME)
	// and the user's home folder.
	Home(getenv func(string) string, userHome string) string
	// Layout says where its session transcripts are under Home.
	Layout() Layout
	// IsSession reports whether the file at path, found by a glob of the
	// Layout or by walking a folder the user named, is a session's main
	// transcript (not a subagent's file, nor another kind of file).
	IsSession(path string) bool
	// Owns reports whether a path outside Home has the shape of this
	// agent's transcripts (a folder name only it uses).
	Owns(path string) bool
	// Session is the session id of a main transcript (the session_id of
	// its hook events): from its path, or from its first lines when the
	// file name does not hold it whole; "" when those lines are not
	// written yet (the file is looked at again when it changes).
	Session(path string) string
	// Discover reports whether a transcript alone makes the session's
	// spans, so the daemon follows transcripts that no hook announced and
	// backfills them; false when the agent's spans come from its hooks.
	Discover() bool
	// NewBuilder makes the span builder of one session.
	NewBuilder(session string, o BuilderOptions) Builder
	// HookConfig is how the agent keeps its hook settings (file, shape,
	// events), which hooks/hookconfig edits: hookconfig.Claude,
	// hookconfig.Cursor or a value of the agent's own; the zero value
	// (no Name) when we register no hooks for it.
	HookConfig() hookconfig.Agent
}

// Checker is implemented by an agent whose own settings can keep its
// sessions from being traced; doctor reports what it finds, given the
// agent's Home.
type Checker interface {
	// CheckHooks: whether its settings let it run the hooks we register.
	CheckHooks(home string) []Finding
	// CheckTranscripts: whether its transcripts stay long enough to be
	// read (by a daemon that was down, or a backfill).
	CheckTranscripts(home string) []Finding
}

// SessionNamer is implemented by an agent whose transcripts' file names
// hold their session id whole, so that a path alone tells whose transcript
// it is. NamedSession returns that id, "" when the name holds none. The
// daemon takes a hook's transcript_path as a session's transcript only when
// it names that session (a Codex CLI subagent's hooks carry the spawning
// session's session_id with the subagent's own rollout).
type SessionNamer interface {
	NamedSession(path string) string
}

// CwdRecorder is implemented by an agent whose transcript lines record the
// conversation's working directory, for sessions and show: Cwd returns it
// from one line of a main transcript, or "" (the first one found is the
// conversation's project).
type CwdRecorder interface {
	Cwd(line []byte) string
}

// Projector is implemented by an agent whose transcripts do not record
// their project (the working folder) on a line, but whose place on disk
// tells it: the daemon keeps an excluded project out by it (when it is an
// absolute path), sessions lists the conversation under it (also when it
// is only a folder's name).
type Projector interface {
	Project(path string) string
}

// Counter is implemented by an agent whose transcripts alone do not make
// its spans (Discover is false) but whose lines can still be counted, for
// sessions: Count adds what one line of a main transcript holds to c.
type Counter interface {
	Count(line []byte, c *Counts)
}

// Counts is what a Counter finds in a conversation's lines.
type Counts struct {
	Turns       int
	FailedTurns int // interrupted or failed
	ToolCalls   int
	// Started is the first prompt's time; zero when no line tells it.
	Started time.Time
}

// Finding is one result of a Checker.
type Finding struct {
	Warn    bool   // false: all is well
	Fail    bool   // with Warn: the agent's sessions are not traced until it is fixed (doctor fails)
	Message string // what was found
	Fix     string // what to do about it; "" when nothing
}

// Layout is where an agent keeps its session transcripts.
type Layout struct {
	// Root is the folder, relative to the agent's Home, that holds every
	// session transcript ("projects"): what the daemon watches.
	Root string
	// Sessions are globs (path/filepath.Match patterns), relative to Root,
	// matching every file that may be a session's main transcript;
	// IsSession picks the main ones among them.
	Sessions []string
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

// Glob returns the paths under dir matching pattern (path/filepath.Match
// components, relative to dir), sorted. Unlike filepath.Glob, dir is taken
// literally: a home folder named with '[' or '*' is no pattern.
func Glob(dir, pattern string) []string {
	paths := []string{dir}
	for part := range strings.SplitSeq(filepath.ToSlash(pattern), "/") {
		var next []string
		for _, p := range paths {
			if !hasMeta(part) {
				if _, err := os.Lstat(filepath.Join(p, part)); err == nil {
					next = append(next, filepath.Join(p, part))
				}
				continue
			}
			entries, err := os.ReadDir(p)
			if err != nil {
				continue
			}
			for _, e := range entries {
				if ok, _ := filepath.Match(part, e.Name()); ok {
					next = append(next, filepath.Join(p, e.Name()))
				}
			}
		}
		paths = next
	}
	return paths
}

// LooksLikeUUID reports whether s has the 8-4-4-4-12 hex shape of a
// session id.
func LooksLikeUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

func hasMeta(s string) bool { return strings.ContainsAny(s, `*?[\`) }
