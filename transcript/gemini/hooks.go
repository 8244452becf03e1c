package gemini

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"slices"
	"time"

	"github.com/weave-agentd/weave-agentd/genai"
)

// hookPayload holds the hook fields the builder uses. Every Gemini CLI
// payload has session_id, transcript_path, cwd, hook_event_name and
// timestamp (Gemini's clock, as in the transcript).
type hookPayload struct {
	HookEventName  string `json:"hook_event_name"`
	TranscriptPath string `json:"transcript_path"`
	Cwd            string `json:"cwd"`
	Timestamp      string `json:"timestamp"`
	// BeforeTool, AfterTool: the call, without its id. The transcript
	// names it original_request_name when the call was renamed.
	ToolName     string          `json:"tool_name"`
	OriginalName string          `json:"original_request_name"`
	ToolInput    json.RawMessage `json:"tool_input"`
}

// hook applies one event. The transcript makes the spans; hooks tell when
// a turn is over, sooner than the idle timeout would, and when its tool
// calls ran:
//   - BeforeAgent: a new prompt, so the previous turn is over (an
//     interrupted turn gets no AfterAgent);
//   - AfterAgent, SessionEnd: the file is complete. The daemon may read
//     the final lines after the event (it applies events, then reads, then
//     ticks): the turn ends at the first Tick that finds its final answer
//     read, else StopWait after the event;
//   - BeforeTool, AfterTool: a tool call starts, ends (see joinRuns).
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
	if name == "BeforeTool" || name == "AfterTool" {
		b.toolHook(name == "BeforeTool", p) // also before the turn's prompt is read
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

// Tool hooks. The transcript records a model message's tool calls only
// once every one of them has run (AfterTool comes before that record), each
// with the time it was recorded: without hooks, a call's span starts with
// its message and ends when the last call of the message was recorded.
// BeforeTool and AfterTool carry the call's name and arguments and Gemini
// CLI's time, but no call id (the fixtures: tool_name, tool_input,
// tool_response{llmContent, returnDisplay}; the transcript has the result
// and status too). So they give each call the time it really ran, joined
// by order, name and arguments: a call takes the oldest run of its name
// and arguments (its name alone in metadata mode) not joined yet.

// toolHook records a tool call starting (BeforeTool) or ending
// (AfterTool): the end goes to the oldest run of that call still running.
// A run is kept apart from the turns: the daemon may apply the event
// before it reads the prompt of its turn. One older than the latest turn
// (an inbox drained late) is no run of its.
func (b *Builder) toolHook(before bool, p *hookPayload) {
	ts := parseTime(p.Timestamp)
	if ts.IsZero() || p.ToolName == "" || b.st.Cur != nil && ts.Before(b.st.Cur.Start) {
		return
	}
	r := toolRun{Name: p.ToolName}
	if p.OriginalName != "" {
		r.Name = p.OriginalName
	}
	if !b.opts.DropContent {
		r.Args = argsKey(p.ToolInput)
	}
	if !before {
		for i := range b.st.Runs {
			if run := &b.st.Runs[i]; run.End.IsZero() && run.Name == r.Name && run.Args == r.Args {
				run.End = ts
				return
			}
		}
		r.End = ts // its BeforeTool was lost
	} else {
		r.Start = ts
	}
	if len(b.st.Runs) >= maxParts {
		b.st.Runs = b.st.Runs[1:]
	}
	b.st.Runs = append(b.st.Runs, r)
}

// joinRuns gives the calls of a model message, about to be sent, the times
// of their runs. A subagent's calls fire the session's tool hooks too,
// while the call that runs it is running: its runs are left out. Runs that
// started before the message's calls were recorded and are left unjoined
// are dropped: they were this message's (or its subagents') calls that the
// transcript names otherwise.
func (b *Builder) joinRuns(trace genai.TraceID, m *message) {
	if len(b.st.Runs) == 0 || len(m.Tools) == 0 {
		return
	}
	var recorded time.Time
	var pending []*toolCall
	for i := range m.Tools {
		tc := &m.Tools[i]
		recorded = later(recorded, tc.End)
		if !b.st.Emitted.Has(genai.NewSpanID(trace, genai.KindTool, tc.ID).String()) { // else sent before this rewrite
			pending = append(pending, tc)
		}
	}
	for _, tc := range pending {
		if tc.Agent != "" && b.takeRun(m, tc) && !tc.Start.IsZero() {
			b.st.Runs = slices.DeleteFunc(b.st.Runs, func(r toolRun) bool {
				return r.Start.After(tc.Start) && later(r.Start, r.End).Before(tc.End)
			})
		}
	}
	for _, tc := range pending {
		if tc.Agent == "" {
			b.takeRun(m, tc)
		}
	}
	b.st.Runs = slices.DeleteFunc(b.st.Runs, func(r toolRun) bool {
		return !recorded.IsZero() && later(r.Start, r.End).Before(recorded)
	})
}

// takeRun gives a call of message m the times of the oldest run of its
// name and arguments since m was written, and removes that run; it reports
// whether one was found. A time out of the call's bounds (before its
// message, after its record) is not taken.
func (b *Builder) takeRun(m *message, tc *toolCall) bool {
	key := ""
	if !b.opts.DropContent {
		key = argsKey(tc.Args)
	}
	for j, r := range b.st.Runs {
		if r.Name != tc.Name || r.Args != key || later(r.Start, r.End).Before(m.End) {
			continue
		}
		if !r.Start.IsZero() && !r.Start.Before(m.End) {
			tc.Start = r.Start
		}
		if !r.End.IsZero() && !r.End.Before(later(tc.Start, m.End)) && (tc.End.IsZero() || !r.End.After(tc.End)) {
			tc.End = r.End
		}
		b.st.Runs = slices.Delete(b.st.Runs, j, j+1)
		return true
	}
	return false
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// argsKey identifies a call's arguments: a hash of their canonical JSON
// (keys sorted), so that a hook's tool_input and the transcript's args
// match however each was spaced and ordered.
func argsKey(raw json.RawMessage) string {
	var v any
	if len(raw) == 0 || json.Unmarshal(raw, &v) != nil {
		v = nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}
