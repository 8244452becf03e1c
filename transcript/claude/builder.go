package claude

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// Options configures a Builder.
type Options struct {
	// TranscriptPath is the session's main transcript. It may be empty: it
	// is then learned from hook events (transcript_path) or discovered
	// under ClaudeHome.
	TranscriptPath string
	// ClaudeHome is Claude Code's config dir ($CLAUDE_CONFIG_DIR or
	// ~/.claude), used to find the transcript and subagent files.
	ClaudeHome string
	// IdleTimeout closes a turn when nothing has happened for this long
	// (default 10 minutes).
	IdleTimeout time.Duration
	// StopWait bounds the wait, after a Stop hook, for the transcript to
	// catch up with last_assistant_message (default 2 s).
	StopWait time.Duration
	// DropContent is the daemon's `content = "metadata"` mode: no prompt,
	// answer, thinking or tool input/output is kept in the persisted state
	// (see content.go). Spans are built as usual; the daemon drops their
	// content attributes.
	DropContent bool
	// Redact masks secrets in a JSON document the builder reads itself (a
	// subagent's .meta.json: its task, as the model wrote it), as the
	// daemon masks transcript lines and hook payloads before the builder
	// sees them: none may reach the persisted state unmasked. nil: none.
	Redact func([]byte) []byte
	// Logger receives debug notes; nil means slog.Default().
	Logger *slog.Logger
}

const (
	defaultIdleTimeout = 10 * time.Minute
	defaultStopWait    = 2 * time.Second
)

// Builder rebuilds the spans of one Claude Code session.
type Builder struct {
	session string
	opts    Options
	log     *slog.Logger

	st      state
	out     []genai.Span
	outHint int // spans in the previous Take: the next batch's likely size

	// Indexes rebuilt from st.
	turnIdx  map[string]*turn
	agentIdx map[string]*agent
}

var (
	_ transcript.Builder = (*Builder)(nil)
	_ transcript.Settler = (*Builder)(nil)
)

// New returns a Builder for the Claude Code session with the given id.
func New(session string, opts Options) *Builder {
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = defaultIdleTimeout
	}
	if opts.StopWait <= 0 {
		opts.StopWait = defaultStopWait
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	b := &Builder{session: session, opts: opts, log: opts.Logger}
	b.st.StateVersion = stateVersion
	b.reindex()
	if opts.TranscriptPath != "" {
		b.st.Main = filepath.Clean(opts.TranscriptPath)
	}
	b.discover()
	return b
}

// Files lists the transcript files to tail: the main transcript first, then
// subagent files in discovery order.
func (b *Builder) Files() []string {
	var fs []string
	if b.st.Main != "" {
		fs = append(fs, b.st.Main)
	}
	return append(fs, b.st.SubFiles...)
}

// Take returns the spans finished since the previous call.
func (b *Builder) Take() []genai.Span {
	out := b.out
	b.out = nil
	b.outHint = len(out)
	return out
}

// Idle reports whether no turn is open.
// A subagent still running or a tool call waiting for its hook also keeps
// the session busy, since only Tick can finish them.
func (b *Builder) Idle() bool {
	for _, t := range b.st.Turns {
		if !t.Closed {
			return false
		}
		for _, tc := range t.Th.Pending {
			if tc.Done {
				return false
			}
		}
	}
	for _, a := range b.st.Agents {
		if !a.Done && (a.Linked || len(a.Buffer) > 0) {
			return false
		}
	}
	return true
}

// Stats reports counters.
func (b *Builder) Stats() transcript.Stats { return b.st.Stats }

// MarshalState encodes everything needed to continue after a restart.
func (b *Builder) MarshalState() ([]byte, error) {
	if b.opts.DropContent {
		b.st.dropContent()
	}
	return transcript.EncodeState(&b.st)
}

// RestoreState replaces the builder's state with one from MarshalState.
func (b *Builder) RestoreState(data []byte) error {
	var st state
	if err := json.Unmarshal(data, &st); err != nil {
		return err
	}
	if st.StateVersion != stateVersion {
		return fmt.Errorf("claude builder state version %d, want %d", st.StateVersion, stateVersion)
	}
	if st.Main == "" {
		st.Main = b.st.Main
	}
	b.st = st
	b.reindex()
	return nil
}

func (b *Builder) reindex() {
	b.turnIdx = make(map[string]*turn, len(b.st.Turns))
	for _, t := range b.st.Turns {
		b.turnIdx[t.Key] = t
	}
	b.agentIdx = make(map[string]*agent, len(b.st.Agents))
	for _, a := range b.st.Agents {
		b.agentIdx[a.ID] = a
	}
}

// Line consumes one complete transcript line.
func (b *Builder) Line(path string, line []byte) {
	b.st.Stats.Lines++
	if len(line) > transcript.MaxLine {
		b.st.Stats.SkippedLines++
		return
	}
	r, err := parseLine(line)
	if err != nil {
		b.st.Stats.SkippedLines++
		b.log.Debug("claude builder: skipping malformed line", "path", path, "err", err)
		return
	}
	if r.Message != nil && r.Message.Truncated {
		b.st.Stats.TruncatedLines++
	}
	if path != "" {
		path = filepath.Clean(path)
		if !b.st.FileSeen[path] {
			if b.st.FileSeen == nil {
				b.st.FileSeen = map[string]bool{}
			}
			b.st.FileSeen[path] = true
		}
	}
	b.record(path, r, line)
}

// Hook consumes one hook event.
func (b *Builder) Hook(ev transcript.Event) {
	b.st.Stats.Events++
	var p hookPayload
	if err := json.Unmarshal(ev.Payload, &p); err != nil {
		return
	}
	name := p.HookEventName
	if name == "" {
		name = ev.Name
	}
	b.hook(name, ev, &p)
}

// Settle implements transcript.Settler: the time rules fire as if
// IdleTimeout had passed since the latest input, without moving the
// builder's clock.
func (b *Builder) Settle() {
	if !b.st.Now.IsZero() {
		b.tick(b.st.Now.Add(b.opts.IdleTimeout))
	}
}

// Tick fires the time-based rules.
func (b *Builder) Tick(now time.Time) {
	if now.After(b.st.Now) {
		b.st.Now = now
	}
	b.tick(now)
}
