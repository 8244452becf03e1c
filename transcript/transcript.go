// Package transcript turns what an agent leaves behind (transcript files and
// hook events) into GenAI spans. Each agent has its own Builder in a
// subpackage (transcript/claude, transcript/cursor); the daemon owns tailing,
// persistence and delivery and only talks to builders through this interface.
package transcript

import (
	"time"

	"github.com/weave-agentd/weave-agentd/genai"
)

// Event is one hook event as the daemon received it. Payload is the agent's
// JSON, already redacted, with any UTF-8 BOM removed.
type Event struct {
	ID         string    // client-side event id (hex, 128 bits)
	Agent      string    // its transcript.Agent Name (genai.AgentClaudeCode …)
	Name       string    // hook_event_name as the agent wrote it
	ReceivedAt time.Time // when the hook client read it
	Payload    []byte
}

// Builder rebuilds the spans of ONE session (conversation) from its hook
// events and transcript lines. It is driven by a single goroutine (the
// session's actor), so it need not be safe for concurrent use.
//
// The daemon guarantees: lines of one file arrive in order, complete (no
// partial last line), each exactly once across restarts, because the file
// offset and MarshalState are committed in the same transaction as the
// spans returned by Take. Builders must therefore be deterministic: the same
// inputs give the same spans with the same ids.
type Builder interface {
	// Line consumes one complete line (no trailing newline) of the transcript
	// file at path. Malformed lines are skipped and counted, never fatal.
	Line(path string, line []byte)
	// Hook consumes one hook event of this session.
	Hook(ev Event)
	// Tick lets time-based rules fire (idle turn timeout, bounded wait for a
	// transcript flush after Stop). now comes from the daemon's clock.
	Tick(now time.Time)
	// Take returns the spans finished since the previous call, and forgets them.
	Take() []genai.Span
	// Files lists the transcript files this session wants tailed (the main
	// transcript and any subagent files discovered so far), absolute paths.
	Files() []string
	// Idle reports whether the session holds no open turn, so the daemon may
	// evict it from memory (its state stays in the spool).
	Idle() bool
	// MarshalState encodes what must survive a restart (open turns, usage
	// seen, ids already emitted). RestoreState is its inverse.
	MarshalState() ([]byte, error)
	RestoreState([]byte) error
	// Stats reports counters (lines parsed, lines skipped …) for status.
	Stats() Stats
}

// Settler is implemented by builders that can be told their input is
// history: the files have not changed for longer than any of their timeouts
// (a backfill of old transcripts). Settle then finishes at once what only
// the passing of time would finish (idle turns, subagents never stopped), so
// the daemon need not keep the session in memory meanwhile. The spans are
// those the timeouts would have produced.
type Settler interface {
	Settle()
}

// Stats counts what a builder did with its input.
type Stats struct {
	Lines        int64 // complete lines consumed
	SkippedLines int64 // malformed or oversized lines skipped
	Events       int64 // hook events consumed
	Spans        int64 // spans produced
	// TruncatedLines are lines kept in part: content past the builder's
	// per-line bounds (blocks, text bytes) was dropped, a marker says so.
	TruncatedLines int64
}
