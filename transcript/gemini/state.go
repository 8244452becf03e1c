package gemini

import (
	"encoding/json"
	"time"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// stateVersion changes whenever the state encoding changes incompatibly.
const stateVersion = 1

// Bounds of what one line may put in the state.
const (
	maxText  = 256 << 10 // bytes of one text, thought, tool argument or result
	maxParts = 256       // content parts, thoughts or tool calls of one message
)

// state is everything a Builder knows; MarshalState encodes it whole.
//
// Memory stays flat whatever the session's length: the state holds the
// latest turn (its prompt and answer until its span is sent) and at most
// one model message's body, the latest, until a record with another id
// shows it is final (a model message is rewritten only until the next
// record). Everything else is ids and counters.
type state struct {
	V int `json:"v"`

	Main     string    `json:"main,omitempty"`
	Cwd      string    `json:"cwd,omitempty"`      // working folder, from a hook (the project folder's .project_root comes first)
	Provider string    `json:"provider,omitempty"` // gen_ai.provider.name, fixed by the first span
	Title    string    `json:"title,omitempty"`    // gen_ai.conversation.name, fixed by the first span
	Now      time.Time `json:"now,omitzero"`       // latest Tick

	Seq int   `json:"seq,omitempty"` // turns opened so far
	Cur *turn `json:"cur,omitempty"` // the latest turn (open, or closed and still taking late lines)
	// Runs are the tool calls BeforeTool / AfterTool saw run, not yet
	// joined to a call of the transcript (oldest first, at most maxParts).
	Runs []toolRun `json:"runs,omitempty"`

	Emitted transcript.Recent `json:"emitted,omitzero"` // recent span ids emitted (guard against doubles)
	Stats   transcript.Stats  `json:"stats"`
}

// turn is one prompt and everything it caused: one trace.
type turn struct {
	Key     string `json:"k"` // the prompt's record id (the trace id derives from it)
	Ordinal int    `json:"n"`

	Start time.Time `json:"t0"`
	End   time.Time `json:"t1"`
	// Last is the timestamp of the turn's latest record: where its next
	// model call starts.
	Last time.Time `json:"last,omitzero"`
	// SeenAt is the daemon time (latest Tick) of its latest line;
	// LastEvent the receive time of its latest hook event.
	SeenAt    time.Time `json:"sa,omitzero"`
	LastEvent time.Time `json:"le,omitzero"`

	Prompt []genai.Part `json:"p,omitempty"`
	Shown  string       `json:"shown,omitempty"` // the prompt as Gemini CLI showed it (displayContent), for the title
	Model  string       `json:"m,omitempty"`     // the first model call's
	Answer string       `json:"ans,omitempty"`   // text of the latest model message with text
	Chats  int          `json:"chats,omitempty"`

	// Msg is the latest model message, not final yet.
	Msg *message `json:"msg,omitempty"`
	// Final are the ids of the turn's model messages already sent.
	Final transcript.Recent `json:"final,omitzero"`

	// Ending: the latest record is a model message with text and without
	// tool calls (a final answer). StopAt: AfterAgent or SessionEnd
	// received: the turn ends at the next Tick that finds it Ending.
	Ending bool      `json:"ending,omitempty"`
	StopAt time.Time `json:"stopAt,omitzero"`

	Status    genai.StatusCode `json:"st,omitempty"`
	StatusMsg string           `json:"stm,omitempty"`
	ErrorType string           `json:"et,omitempty"`

	Closed bool `json:"closed,omitempty"` // turn span sent
}

// message is one model message (one model call).
type message struct {
	ID       string     `json:"id"`
	Model    string     `json:"m,omitempty"`
	Start    time.Time  `json:"t0"`
	End      time.Time  `json:"t1"`
	Text     []string   `json:"text,omitempty"`
	Thoughts []string   `json:"th,omitempty"`
	Tokens   *recTokens `json:"tok,omitempty"`
	Tools    []toolCall `json:"tools,omitempty"`
}

// toolCall is one entry of a model message's toolCalls.
type toolCall struct {
	ID     string          `json:"id"`
	Name   string          `json:"n"`
	Args   json.RawMessage `json:"a,omitempty"`
	Result string          `json:"r,omitempty"`
	Status string          `json:"s,omitempty"`
	// ExitCode is a shell command's exit status, when its output says
	// one (Gemini CLI records a failed command as a success).
	ExitCode *int64 `json:"ec,omitempty"`
	// Start and End are when the call ran, by its BeforeTool / AfterTool
	// hooks; without them, End is when Gemini CLI recorded it (after every
	// call of its message had run) and its span starts with the message.
	Start time.Time `json:"t0,omitzero"`
	End   time.Time `json:"t1,omitzero"`
	// Agent is the id of the subagent the call ran (invoke_agent), whose
	// chat file is chats/<session id>/<Agent>.jsonl.
	Agent string `json:"ag,omitempty"`
}

// toolRun is one tool call as its hooks saw it run, on Gemini CLI's clock
// (their payloads' timestamp, as the transcript's).
type toolRun struct {
	Name string `json:"n"`
	// Args is argsKey of the call's tool_input; "" in metadata mode
	// (a hash of short arguments would tell them), where runs are joined
	// by name and order alone.
	Args  string    `json:"a,omitempty"`
	Start time.Time `json:"t0,omitzero"`
	End   time.Time `json:"t1,omitzero"`
}

// dropContent removes every prompt, answer, thought, tool argument and
// result from the state (the metadata mode). It runs before every
// MarshalState, on the live state too, so a restored builder and a live
// one behave alike; the daemon drops content attributes from spans anyway.
func (st *state) dropContent() {
	t := st.Cur
	if t == nil {
		return
	}
	t.Prompt, t.Shown, t.Answer, t.StatusMsg = nil, "", "", ""
	if m := t.Msg; m != nil {
		m.Text, m.Thoughts = nil, nil
		for i := range m.Tools {
			m.Tools[i].Args, m.Tools[i].Result = nil, ""
		}
	}
}
