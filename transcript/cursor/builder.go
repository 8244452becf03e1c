// Package cursor rebuilds OpenTelemetry GenAI spans from Cursor hook events
// and Cursor agent transcripts. It implements transcript.Builder.
//
// Cursor's hooks are the timeline: payloads carry no timestamps, so every
// time is the hook's receive time, and a tool span starts at its receive time
// minus the `duration` Cursor reports. The transcript
// (~/.cursor/projects/<slug>/agent-transcripts/…) has no ids, timestamps or
// usage; it only fills in text the hooks lack (the prompt in headless runs,
// where beforeSubmitPrompt does not fire; responses; the abort status), and
// is strictly best-effort.
//
// Spans, shaped like the Claude Code builder's so that both agents look the
// same on a server:
//
//	invoke_agent cursor               one per generation (turn), root of its trace
//	  execute_tool {tool}             postToolUse / postToolUseFailure (afterShellExecution
//	                                  and afterMCPExecution fold into them, or stand alone)
//	    invoke_agent {subagent type}  subagentStop (+ subagentStart), under its Task tool
//
// There are no chat spans: Cursor reports neither model-call boundaries nor
// token usage, so afterAgentThought / afterAgentResponse text goes into the
// turn's gen_ai.output.messages (reasoning and text parts, in order) and
// their receive times into span events. No gen_ai.usage.* attribute is ever
// written.
//
// A turn opens with beforeSubmitPrompt or the first event of a new
// generation and finishes with stop (aborted/error → error status), the next
// generation, sessionEnd, or IdleTimeout of daemon time. Tool and subagent
// spans go out as soon as they are complete; the turn span goes out from
// Tick, 0.5 s after a tick saw it finished when the hooks told everything or
// its transcript turn ended, else TranscriptWait after it. Events that
// arrive later still land in its trace (the turn span is not sent again).
//
// Ids follow DESIGN.md: trace id from ("cursor", conversation id, turn key),
// the turn key being the generation_id, or generation_id + "#" + the turn's
// ordinal when the generation id equals the conversation id (headless
// `cursor-agent -p` runs reuse it for every turn).
package cursor

import (
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// Options configures a Builder.
type Options struct {
	// TranscriptPath is the conversation's transcript. It may be empty: it
	// is then learned from hook events (transcript_path) or discovered under
	// CursorHome.
	TranscriptPath string
	// CursorHome is Cursor's config dir (~/.cursor), where transcripts are
	// discovered: projects/<slug>/agent-transcripts/<id>/<id>.jsonl, flat
	// <id>.jsonl, or the older <id>.txt. Empty disables discovery.
	CursorHome string
	// IdleTimeout closes a turn when nothing has happened for this long
	// (default 10 minutes).
	IdleTimeout time.Duration
	// TranscriptWait bounds how long a finished turn waits for its
	// transcript lines (to fill a missing prompt or response) before its
	// span is sent anyway (default 2 s, daemon time).
	TranscriptWait time.Duration
	// CaptureUserEmail puts Cursor's user_email in the resource (user.email).
	// Off by default.
	CaptureUserEmail bool
	// DropContent is the daemon's `content = "metadata"` mode: the transcript,
	// which only fills in text, is not read at all, so no prompt or response
	// ever enters the builder's state (hook payloads arrive already stripped).
	DropContent bool
	// Logger receives debug notes; nil means slog.Default().
	Logger *slog.Logger
}

const (
	defaultIdleTimeout    = 10 * time.Minute
	defaultTranscriptWait = 2 * time.Second

	maxText         = 1 << 20 // one stored text (prompt, response, tool result)
	maxTurnText     = 4 << 20 // all response/thought text kept for one turn
	maxEvents       = 256     // span events kept per turn
	maxClosedTurns  = 16      // closed turns kept for late events
	maxTxTurns      = 64      // unconsumed transcript turns kept
	maxEmitted      = 2048    // span ids remembered against double emission
	maxEventIDs     = 512     // client event ids remembered against redelivery
	dupWindow       = 5 * time.Second
	settleQuiet     = 500 * time.Millisecond // minimum wait of a finished turn (daemon time)
	rescanEvery     = 5 * time.Second
	fullRescanEvery = time.Minute
)

// Builder rebuilds the spans of one Cursor conversation.
type Builder struct {
	conv string
	opts Options
	log  *slog.Logger

	st  state
	out []genai.Span
}

var _ transcript.Builder = (*Builder)(nil)

// New returns a Builder for the Cursor conversation with the given id.
func New(conversation string, opts Options) *Builder {
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = defaultIdleTimeout
	}
	if opts.TranscriptWait <= 0 {
		opts.TranscriptWait = defaultTranscriptWait
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	b := &Builder{conv: conversation, opts: opts, log: opts.Logger}
	b.st.V = stateVersion
	if opts.TranscriptPath != "" {
		b.st.Main = filepath.Clean(opts.TranscriptPath)
	}
	b.discover(true)
	return b
}

// Files lists the transcript file to tail (none until it is known).
func (b *Builder) Files() []string {
	if b.st.Main == "" || b.opts.DropContent {
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

// Idle reports whether no turn is open or waiting to be sent.
func (b *Builder) Idle() bool {
	for _, t := range b.st.Turns {
		if !t.Close {
			return false
		}
	}
	return true
}

// Stats reports counters.
func (b *Builder) Stats() transcript.Stats { return b.st.Stats }

// MarshalState encodes everything needed to continue after a restart.
func (b *Builder) MarshalState() ([]byte, error) {
	return transcript.EncodeState(&b.st)
}

// RestoreState replaces the builder's state with one from MarshalState.
// A state of another version is ignored (logged), not an error.
func (b *Builder) RestoreState(data []byte) error {
	var st state
	if err := json.Unmarshal(data, &st); err != nil {
		return err
	}
	if st.V != stateVersion {
		b.log.Warn("cursor builder: ignoring state of another version", "have", st.V, "want", stateVersion)
		return nil
	}
	if st.Main == "" {
		st.Main = b.st.Main
	}
	b.st = st
	return nil
}

// Line consumes one complete transcript line.
func (b *Builder) Line(path string, line []byte) {
	b.st.Stats.Lines++
	if b.opts.DropContent {
		return // metadata mode: transcripts only carry text
	}
	if len(line) > transcript.MaxLine {
		b.st.Stats.SkippedLines++
		return
	}
	if path != "" {
		path = filepath.Clean(path)
		if b.st.Main == "" {
			b.st.Main = path
		} else if path != b.st.Main {
			return // another file (a subagent transcript): not parsed
		}
	}
	b.st.MainRead = true
	if !b.txLine(b.st.Main, line) {
		b.st.Stats.SkippedLines++
		return
	}
	b.afterInput()
}

// Hook consumes one hook event.
func (b *Builder) Hook(ev transcript.Event) {
	b.st.Stats.Events++
	if ev.ID != "" {
		ev.ID = strings.ToValidUTF8(ev.ID, "\uFFFD")
		if !b.st.EventIDs.Add(ev.ID, maxEventIDs) {
			return // redelivered
		}
	}
	p, ok := parsePayload(ev.Payload)
	if !ok {
		b.log.Debug("cursor builder: payload is not a JSON object", "event", ev.Name)
		return
	}
	name := p.str("hook_event_name")
	if name == "" {
		name = ev.Name
	}
	name = normalizeEvent(name)
	at := ev.ReceivedAt
	if at.IsZero() {
		at = b.st.LastAt
	}
	if at.After(b.st.LastAt) {
		b.st.LastAt = at
	}
	if b.duplicate(p, name, at) {
		b.st.Dups++
		return
	}
	b.hook(name, p, at)
	b.afterInput()
}

// Tick fires the time-based rules.
func (b *Builder) Tick(now time.Time) {
	if now.After(b.st.Now) {
		b.st.Now = now
	}
	now = b.st.Now
	if b.st.Main == "" && !b.opts.DropContent && (b.st.Scanned.IsZero() || now.Sub(b.st.Scanned) >= rescanEvery) {
		// The workspace's project dir every few seconds, all of them now
		// and then (a workspace can map to an unexpected slug).
		all := b.st.FullScan.IsZero() || now.Sub(b.st.FullScan) >= fullRescanEvery
		if all {
			b.st.FullScan = now
		}
		b.st.Scanned = now
		b.discover(all)
	}
	for _, t := range b.st.Turns {
		if t.Close {
			continue
		}
		if t.SeenAt.IsZero() {
			t.SeenAt = now
		}
		if !t.Done {
			last := t.SeenAt
			if t.LastEvent.After(last) {
				last = t.LastEvent
			}
			if now.Sub(last) < b.opts.IdleTimeout {
				continue
			}
			b.finish(t, "idle", time.Time{})
			if t.Close {
				continue
			}
		}
		if t.DoneSeen.IsZero() {
			t.DoneSeen = now
		}
		b.tryEmit(t)
	}
	b.prune()
}

// afterInput matches transcript turns and forgets what is no longer needed.
// Finished turns go out from Tick only, so that hook events racing the one
// that finished a turn (afterAgentResponse just behind stop) still land.
func (b *Builder) afterInput() {
	b.align()
	b.prune()
}

// duplicate reports whether the same event (by content, envelope aside) was
// seen within dupWindow: Cursor fires a hook registered both natively and in
// Claude Code settings twice, with Cursor-shaped payloads.
func (b *Builder) duplicate(p payload, name string, at time.Time) bool {
	fp := p.fingerprint(name)
	if fp == "" {
		return false
	}
	keep := b.st.Recent[:0]
	dup := false
	for _, r := range b.st.Recent {
		if d := at.Sub(r.At); d > dupWindow || d < -dupWindow {
			continue
		}
		if r.FP == fp {
			dup = true
		}
		keep = append(keep, r)
	}
	b.st.Recent = keep
	if !dup {
		b.st.Recent = append(b.st.Recent, recentEvent{FP: fp, At: at})
		if n := len(b.st.Recent); n > 256 {
			b.st.Recent = append([]recentEvent(nil), b.st.Recent[n-256:]...)
		}
	}
	return dup
}

func (b *Builder) emit(s genai.Span) {
	if !b.st.Emitted.Add(s.SpanID.String(), maxEmitted) {
		b.log.Debug("cursor builder: span already emitted", "span", s.SpanID.String(), "name", s.Name)
		return
	}
	b.out = append(b.out, s)
	b.st.Stats.Spans++
}

// prune forgets the oldest closed turns beyond maxClosedTurns.
func (b *Builder) prune() {
	closed := 0
	for _, t := range b.st.Turns {
		if t.Close {
			closed++
		}
	}
	if closed > maxClosedTurns {
		drop := closed - maxClosedTurns
		kept := b.st.Turns[:0]
		for _, t := range b.st.Turns {
			if drop > 0 && t.Close {
				drop--
				continue
			}
			kept = append(kept, t)
		}
		b.st.Turns = kept
	}
	b.pruneTx()
}
