package gemini

import (
	"path/filepath"
	"time"
)

// hookPayload holds the hook fields the builder uses. Every Gemini CLI
// payload has session_id, transcript_path, cwd, hook_event_name and
// timestamp (Gemini's clock, as in the transcript).
type hookPayload struct {
	HookEventName  string `json:"hook_event_name"`
	TranscriptPath string `json:"transcript_path"`
	Cwd            string `json:"cwd"`
	Timestamp      string `json:"timestamp"`
}

// hook applies one event. The transcript makes the spans; hooks only tell
// when a turn is over, sooner than the idle timeout would:
//   - BeforeAgent: a new prompt, so the previous turn is over (an
//     interrupted turn gets no AfterAgent);
//   - AfterAgent, SessionEnd: the file is complete. The daemon may read
//     the final lines after the event (it applies events, then reads, then
//     ticks): the turn ends at the first Tick that finds its final answer
//     read, else StopWait after the event.
//
// An event older than the open turn (by Gemini's timestamp; an inbox
// drained late) ends nothing.
func (b *Builder) hook(name string, at time.Time, p *hookPayload) {
	if p.TranscriptPath != "" && b.st.Main == "" && (Agent{}).IsSession(p.TranscriptPath) {
		b.st.Main = filepath.Clean(p.TranscriptPath)
	}
	if p.Cwd != "" && b.st.Cwd == "" {
		b.st.Cwd = p.Cwd
	}
	t := b.st.Cur
	if t == nil || t.Closed {
		return
	}
	if ts := parseTime(p.Timestamp); !ts.IsZero() && ts.Before(t.Start) {
		return
	}
	if at.After(t.LastEvent) {
		t.LastEvent = at
	}
	switch name {
	case "BeforeAgent":
		if !parseTime(p.Timestamp).IsZero() {
			b.finishTurn(t)
		}
	case "AfterAgent", "SessionEnd":
		if t.StopAt.IsZero() {
			t.StopAt = at // Tick ends the turn, after the lines read with this event
		}
	}
}
