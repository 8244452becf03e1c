package gemini

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
	// TranscriptPath is the session's chat file; empty: learned from a
	// hook's transcript_path.
	TranscriptPath string
	// GeminiHome is Gemini CLI's folder (~/.gemini), where settings.json
	// says which API serves the model (Gemini API or Vertex AI).
	GeminiHome string
	// IdleTimeout closes a turn when nothing has happened for this long
	// (default 10 minutes). In a session without hooks it is what ends
	// the last turn: Gemini CLI writes a model message's tool calls only
	// once they have run, so until then a message that calls a tool looks
	// like a final answer, whatever its text.
	IdleTimeout time.Duration
	// StopWait bounds the wait for the final answer after AfterAgent or
	// SessionEnd (default 2 s).
	StopWait time.Duration
	// DropContent is the `content = "metadata"` mode: no prompt, answer,
	// thought or tool input/output is kept in the persisted state.
	DropContent bool
	// Redact masks secrets in the lines of the subagent chat files the
	// builder reads itself; nil: none.
	Redact func([]byte) []byte
	// Logger receives debug notes; nil means slog.Default().
	Logger *slog.Logger
}

const (
	defaultIdleTimeout = 10 * time.Minute
	defaultStopWait    = 2 * time.Second
	// maxEmitted span ids are remembered to refuse emitting one twice.
	maxEmitted = 1024
	// maxFinal model message ids of the latest turn are remembered, to
	// tell a late rewrite of one from a new message.
	maxFinal = 256
)

// Builder rebuilds the spans of one Gemini CLI session.
type Builder struct {
	session string
	opts    Options
	log     *slog.Logger
	st      state
	out     []genai.Span
}

var (
	_ transcript.Builder = (*Builder)(nil)
	_ transcript.Settler = (*Builder)(nil)
)

// New returns a Builder for the Gemini CLI session with the given id.
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
	b.st.V = stateVersion
	if opts.TranscriptPath != "" {
		b.st.Main = filepath.Clean(opts.TranscriptPath)
	}
	return b
}

// Files lists the chat file, once known.
func (b *Builder) Files() []string {
	if b.st.Main == "" {
		return nil
	}
	return []string{b.st.Main}
}

// Take returns the spans finished since the previous call.
func (b *Builder) Take() []genai.Span {
	out := b.out
	b.out = nil
	return out
}

// Idle reports whether no turn is open and no model message waits.
func (b *Builder) Idle() bool {
	t := b.st.Cur
	return t == nil || t.Closed && t.Msg == nil
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
	if st.V != stateVersion {
		return fmt.Errorf("gemini builder state version %d, want %d", st.V, stateVersion)
	}
	if st.Main == "" {
		st.Main = b.st.Main
	}
	b.st = st
	return nil
}

// Line consumes one complete line of the chat file.
func (b *Builder) Line(path string, line []byte) {
	b.st.Stats.Lines++
	if len(line) > transcript.MaxLine {
		b.st.Stats.SkippedLines++
		return
	}
	r, err := parseLine(line)
	if err != nil {
		b.st.Stats.SkippedLines++
		b.log.Debug("gemini builder: skipping malformed line", "path", path, "err", err)
		return
	}
	if b.st.Main == "" && path != "" {
		b.st.Main = filepath.Clean(path)
	}
	if r.isMessage() {
		b.message(r)
	}
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
	at := ev.ReceivedAt
	if at.IsZero() {
		at = b.st.Now
	}
	b.hook(name, at, &p)
}

// Settle implements transcript.Settler: the time rules fire as if
// IdleTimeout had passed since the latest input, also when no Tick came
// before (a backfill).
func (b *Builder) Settle() {
	last := b.st.Now
	if t := b.st.Cur; t != nil {
		for _, at := range []time.Time{t.SeenAt, t.LastEvent} {
			if at.After(last) {
				last = at
			}
		}
	}
	at := last.Add(b.opts.IdleTimeout)
	b.tick(at)                         // a turn no Tick saw yet is seen now,
	b.tick(at.Add(b.opts.IdleTimeout)) // and idle then
}

// Tick fires the time-based rules.
func (b *Builder) Tick(now time.Time) {
	if now.After(b.st.Now) {
		b.st.Now = now
	}
	b.tick(now)
}

func (b *Builder) tick(now time.Time) {
	t := b.st.Cur
	if t == nil {
		return
	}
	if t.SeenAt.IsZero() {
		t.SeenAt = now // first seen by the daemon now (a backfill before any tick)
	}
	if t.Closed {
		// Late lines under a closed turn: their message is final once quiet.
		if t.Msg != nil && !now.Before(t.SeenAt.Add(b.opts.StopWait)) {
			b.flushMsg(t)
		}
		return
	}
	last := t.SeenAt
	if t.LastEvent.After(last) {
		last = t.LastEvent
	}
	switch {
	// A quiet file ends no turn sooner than IdleTimeout: a model message
	// without tool calls may be a call still running (Gemini CLI writes it
	// again with its toolCalls once they have run), with or without text.
	// AfterAgent or SessionEnd end it sooner, and the next prompt.
	case !t.StopAt.IsZero() && (t.Ending || !now.Before(t.StopAt.Add(b.opts.StopWait))),
		!now.Before(last.Add(b.opts.IdleTimeout)):
		b.finishTurn(t)
	}
}

// emit queues a span unless one with its id was emitted before; it
// reports whether it did.
func (b *Builder) emit(s genai.Span) bool {
	if !b.st.Emitted.Add(s.SpanID.String(), maxEmitted) {
		b.log.Debug("gemini builder: span already emitted", "span", s.SpanID.String(), "name", s.Name)
		return false
	}
	b.out = append(b.out, s)
	b.st.Stats.Spans++
	return true
}
