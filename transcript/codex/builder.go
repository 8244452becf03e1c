// Package codex rebuilds OpenTelemetry GenAI spans from Codex CLI rollout
// transcripts ($CODEX_HOME/sessions/YYYY/MM/DD/rollout-<time>-<session>.jsonl)
// and hook events. It implements transcript.Builder and transcript.Agent.
//
// The rollout alone makes the spans (as for Claude Code): it records each
// turn (task_started … task_complete, with its turn_id), each model call's
// output items (response_item reasoning, message, function_call) closed by
// one token_usage_record with the call's usage (older versions tell it only
// by token_count events: see tokenCount), and each tool call's output
// (function_call_output) and execution (event_msg item_completed
// CommandExecution: exit code, start, duration). Hooks only help settle a
// turn: Stop arrives one line before task_complete, SessionEnd after it.
//
// Spans, shaped like the Claude Code builder's:
//
//	invoke_agent codex          one per turn (turn_id), root of its trace
//	  chat {model}              one per token_usage_record (or token_count
//	                            that grew), with its usage
//	  execute_tool {tool}       one per function_call / custom_tool_call
//	  execute_tool spawn_agent  a multi_agent_v1 spawn
//	    invoke_agent {type}     the subagent it started (drawn by this turn)
//	      chat, execute_tool    the subagent's (drawn by its own rollout's
//	                            builder: see conversation in spans.go)
//	  execute_tool send_input   a later message to that subagent
//	    invoke_agent {type}     the run it started: the subagent's next turn
//	      chat, execute_tool    (the call's output names that turn)
//
// A turn where Codex compacted the history carries weave.compaction.*; a
// tool call the user interrupted ("aborted by user") is an error.
//
// A turn is complete at its task_complete (or turn_aborted, or the next
// turn's task_started): its span goes out at once. Codex runs the Stop hook
// one line before task_complete is written; when that line does not follow
// within StopWait of Stop (or of SessionEnd), or nothing at all happens for
// IdleTimeout, the turn span goes out anyway, ending at its last record,
// and the turn stays late: lines that name it still add their chat and
// tool spans to its trace.
//
// Metadata mode (Options.DropContent) keeps no content in the persisted
// state. The builder reads no file itself (the daemon hands it redacted
// lines), so it has nothing to redact.
//
// Ids follow DESIGN.md: trace id from ("codex", session id, turn_id); span
// ids from the trace and "turn", the response_id, or the call_id.
package codex

import (
	"encoding/json"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// Options configures a Builder.
type Options struct {
	// TranscriptPath is the session's rollout file. It may be empty: it is
	// then learned from hook events (transcript_path).
	TranscriptPath string
	// IdleTimeout closes a turn when nothing has happened for this long
	// (default 10 minutes).
	IdleTimeout time.Duration
	// StopWait bounds the wait, after a Stop or SessionEnd hook, for the
	// turn's task_complete line (default 2 s).
	StopWait time.Duration
	// DropContent is the daemon's `content = "metadata"` mode: no prompt,
	// answer, reasoning or tool input/output is kept in the persisted
	// state. Spans are built as usual; the daemon drops their content
	// attributes.
	DropContent bool
	// Logger receives debug notes; nil means slog.Default().
	Logger *slog.Logger
}

const (
	defaultIdleTimeout = 10 * time.Minute
	defaultStopWait    = 2 * time.Second

	maxText        = 1 << 20 // one text kept (prompt, answer, part, tool argument or output)
	maxCallBytes   = 4 << 20 // all parts kept for one model call
	maxParts       = 256     // parts kept for one model call
	maxName        = 256     // bytes of a tool name kept
	maxPromptParts = 64      // parts kept for one prompt
	maxTools       = 256     // tool calls waiting for their output, per turn
	maxClosedTurns = 8       // finished turns kept (for a repeated task_started, a late usage record)
	maxEmitted     = 1024    // span ids remembered against double emission
)

// Builder rebuilds the spans of one Codex CLI session.
type Builder struct {
	session string
	opts    Options
	log     *slog.Logger

	st  state
	out []genai.Span
}

var (
	_ transcript.Builder = (*Builder)(nil)
	_ transcript.Settler = (*Builder)(nil)
)

// New returns a Builder for the Codex CLI session with the given id.
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

// Files lists the rollout file to tail (none until it is known).
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

// Idle reports whether no turn is open or late.
func (b *Builder) Idle() bool {
	for _, t := range b.st.Turns {
		if !t.Done || t.Late {
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
// A state of another version is ignored (logged), not an error.
func (b *Builder) RestoreState(data []byte) error {
	var st state
	if err := json.Unmarshal(data, &st); err != nil {
		return err
	}
	if st.V == 1 {
		st.V, st.Records = stateVersion, true
	}
	if st.V != stateVersion {
		b.log.Warn("codex builder: ignoring state of another version", "have", st.V, "want", stateVersion)
		return nil
	}
	if id := (Agent{}).NamedSession(st.Main); id != "" && id != b.session {
		// Built from another session's rollout (a subagent's, named by one
		// of its hooks to an older daemon): nothing in it is this session's,
		// whose own rollout is learned again.
		b.log.Warn("codex builder: ignoring state built from another session's rollout", "path", st.Main)
		return nil
	}
	if st.Main == "" {
		st.Main = b.st.Main
	}
	b.st = st
	return nil
}

// Line consumes one complete rollout line.
func (b *Builder) Line(path string, line []byte) {
	b.st.Stats.Lines++
	if len(line) > transcript.MaxLine {
		b.st.Stats.SkippedLines++
		return
	}
	if path != "" {
		path = filepath.Clean(path)
		if b.st.Main == "" {
			b.st.Main = path
		} else if path != b.st.Main {
			return // not this session's rollout
		}
	}
	r, ts, err := parseLine(line)
	if err != nil {
		b.st.Stats.SkippedLines++
		b.log.Debug("codex builder: skipping malformed line", "path", path, "err", err)
		return
	}
	b.record(r.Type, r.Payload, ts)
}

// hookPayload holds the hook fields the builder uses.
type hookPayload struct {
	HookEventName  string `json:"hook_event_name"`
	TranscriptPath string `json:"transcript_path"`
	TurnID         string `json:"turn_id"`
	Prompt         string `json:"prompt"`
	// AgentID marks a subagent's hook: Codex sends it with the spawning
	// session's session_id and the subagent's transcript_path.
	AgentID string `json:"agent_id"`
}

// Hook consumes one hook event. The rollout says everything; hooks name
// the rollout file, keep a turn from idling out, and bound the wait for a
// turn's last line (Stop is sent before task_complete is written).
func (b *Builder) Hook(ev transcript.Event) {
	b.st.Stats.Events++
	var p hookPayload
	if err := json.Unmarshal(ev.Payload, &p); err != nil || p.AgentID != "" {
		return // a subagent's: its rollout (its own session) says it all
	}
	if p.TranscriptPath != "" && b.st.Main == "" {
		b.st.Main = filepath.Clean(p.TranscriptPath)
	}
	name := p.HookEventName
	if name == "" {
		name = ev.Name
	}
	at := ev.ReceivedAt
	if at.IsZero() {
		at = b.st.Now
	}
	t := b.turn(p.TurnID)
	switch name {
	case "UserPromptSubmit":
		// The prompt as typed: the turn's prompt until (unless) its
		// UserMessage line is read.
		if p.Prompt == "" || p.TurnID == "" {
			break
		}
		if t != nil {
			t.HookPrompt = b.clip(p.Prompt)
		} else {
			b.st.Prompt = &hookPrompt{Turn: p.TurnID, Text: b.clip(p.Prompt)}
		}
	case "Stop":
		if t != nil && !t.Done && t.StopAt.IsZero() {
			t.StopAt = at
		}
	case "SessionEnd":
		for _, t := range b.st.Turns {
			if !t.Done && t.StopAt.IsZero() {
				t.StopAt = at
			}
		}
		return
	}
	if t != nil && (!t.Done || t.Late) && at.After(t.LastEvent) {
		t.LastEvent = at
	}
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

func (b *Builder) tick(now time.Time) {
	for _, t := range b.st.Turns {
		if t.Done && !t.Late {
			continue
		}
		if t.SeenAt.IsZero() {
			t.SeenAt = now // first seen by the daemon now (backfill before any tick)
		}
		last := t.SeenAt
		if t.LastEvent.After(last) {
			last = t.LastEvent
		}
		switch {
		case t.Done: // late: complete once quiet
			if now.Sub(last) >= b.opts.IdleTimeout {
				b.finishTurn(t, true, "")
			}
		case !t.StopAt.IsZero() && !now.Before(t.StopAt.Add(b.opts.StopWait)),
			now.Sub(last) >= b.opts.IdleTimeout:
			b.finishTurn(t, false, "")
		}
	}
	b.prune()
}

// turn returns the turn with the given id, or the latest one when id is ""
// (nil when there is none).
func (b *Builder) turn(id string) *turn {
	if id == "" {
		id = b.st.Cur
	}
	for i := len(b.st.Turns) - 1; i >= 0; i-- {
		if b.st.Turns[i].ID == id {
			return b.st.Turns[i]
		}
	}
	return nil
}

// emit queues a span, unless one with its id was emitted before.
func (b *Builder) emit(s genai.Span) {
	if !b.st.Emitted.Add(s.SpanID.String(), maxEmitted) {
		b.log.Debug("codex builder: span already emitted", "span", s.SpanID.String(), "name", s.Name)
		return
	}
	b.out = append(b.out, s)
	b.st.Stats.Spans++
}

// prune forgets the oldest closed turns beyond maxClosedTurns.
func (b *Builder) prune() {
	closed := 0
	for _, t := range b.st.Turns {
		if t.Done {
			closed++
		}
	}
	if closed <= maxClosedTurns {
		return
	}
	drop := closed - maxClosedTurns
	kept := b.st.Turns[:0]
	for _, t := range b.st.Turns {
		if drop > 0 && t.Done && !t.Late {
			drop--
			continue
		}
		kept = append(kept, t)
	}
	clear(b.st.Turns[len(kept):])
	b.st.Turns = kept
}
