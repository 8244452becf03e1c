package cursor

import (
	"encoding/json"
	"time"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// stateVersion changes whenever the state encoding changes incompatibly.
const stateVersion = 1

// state is everything a Builder knows. MarshalState encodes it whole, so a
// restored builder continues exactly where the old one stopped.
type state struct {
	V int `json:"v"`

	Main     string    `json:"main,omitempty"`     // transcript file
	MainHook bool      `json:"mainHook,omitempty"` // Main came from a hook's transcript_path (not discovery)
	MainRead bool      `json:"mainRead,omitempty"` // Main delivered at least one line
	Scanned  time.Time `json:"scan,omitzero"`      // last discovery (tick time)
	FullScan time.Time `json:"fscan,omitzero"`     // last discovery over all project dirs

	Now    time.Time `json:"now,omitzero"`    // latest Tick
	LastAt time.Time `json:"lastAt,omitzero"` // latest hook receive time

	Sess sessionInfo `json:"sess"`

	Seq   int     `json:"seq,omitempty"`   // turns opened so far (the next ordinal - 1)
	Turns []*turn `json:"turns,omitempty"` // open and recently closed turns, oldest first

	Tx txState `json:"tx"`

	Recent   []recentEvent     `json:"recent,omitempty"` // fingerprints of recent events (copies dropped)
	EventIDs transcript.Recent `json:"ids,omitzero"`     // recent client event ids (redeliveries dropped)
	Emitted  transcript.Recent `json:"emitted,omitzero"` // recent span ids emitted (guard against doubles)

	// Title is gen_ai.conversation.name, fixed when the first span is built.
	Title string `json:"title,omitempty"`

	Orphans int              `json:"orphans,omitempty"` // transcript turns no hook turn claimed
	Dups    int              `json:"dups,omitempty"`    // duplicate events and after* events folded into tool spans
	Stats   transcript.Stats `json:"stats"`
}

// sessionInfo is what the session-level events said.
type sessionInfo struct {
	Version      string    `json:"ver,omitempty"`
	Roots        []string  `json:"roots,omitempty"`
	ComposerMode string    `json:"mode,omitempty"`
	Background   *bool     `json:"bg,omitempty"`
	Email        string    `json:"email,omitempty"`
	StartAt      time.Time `json:"startAt,omitzero"` // latest sessionStart
	StartGen     string    `json:"startGen,omitempty"`
	StartPending bool      `json:"startPending,omitempty"` // not yet attached to a turn
}

type recentEvent struct {
	FP string    `json:"fp"`
	At time.Time `json:"at"`
}

// turn is one generation: a user prompt and everything it caused, one trace.
type turn struct {
	Key      string `json:"k"`
	Gen      string `json:"gen,omitempty"`
	Ordinal  int    `json:"n"`
	Headless bool   `json:"hl,omitempty"` // generation_id = conversation_id

	Start     time.Time `json:"t0"`
	End       time.Time `json:"t1,omitzero"`
	LastEvent time.Time `json:"le,omitzero"` // latest hook receive time in this turn
	SeenAt    time.Time `json:"sa,omitzero"` // daemon time (latest Tick) of its latest input
	DoneSeen  time.Time `json:"ds,omitzero"` // daemon time when it finished
	ChildMin  time.Time `json:"cmin,omitzero"`
	ChildMax  time.Time `json:"cmax,omitzero"`

	Model   string   `json:"m,omitempty"`
	ModelID string   `json:"mid,omitempty"`
	Params  []string `json:"mp,omitempty"`
	Version string   `json:"ver,omitempty"`

	Prompt      string       `json:"p,omitempty"`
	PromptAt    time.Time    `json:"pat,omitzero"`
	Attachments []string     `json:"att,omitempty"`
	Parts       []genai.Part `json:"parts,omitempty"` // afterAgentThought / afterAgentResponse, in order
	PartBytes   int          `json:"pb,omitempty"`

	Events  []spanEvent `json:"ev,omitempty"`
	DropEvs int         `json:"dev,omitempty"`

	Tools  []*toolRef  `json:"tools,omitempty"`  // tool spans emitted (for after* dedupe and subagent links)
	Afters []*after    `json:"afters,omitempty"` // afterShellExecution / afterMCPExecution records
	Subs   []*subagent `json:"subs,omitempty"`
	NAfter int         `json:"na,omitempty"` // after* events seen (synthetic span keys)
	NTool  int         `json:"nt,omitempty"` // tool events without a tool_use_id
	NSub   int         `json:"ns,omitempty"` // subagents without an id

	Compactions int `json:"cmp,omitempty"`

	StopStatus  string           `json:"stop,omitempty"`
	LoopCount   int              `json:"loop,omitempty"`
	EndReason   string           `json:"why,omitempty"` // stop | next_generation | session_end | new_session | idle
	Status      genai.StatusCode `json:"st,omitempty"`
	StatusMsg   string           `json:"stm,omitempty"`
	ErrorType   string           `json:"et,omitempty"`
	SessionDone bool             `json:"sd,omitempty"` // sessionEnd seen for this turn

	Tx    int  `json:"tx"` // matched transcript turn (absolute index), -1 none
	Done  bool `json:"done,omitempty"`
	Close bool `json:"closed,omitempty"` // turn span emitted
}

// spanEvent is a span event kept until the turn span is built. Values are
// stored as strings, ints, floats or bools with a type tag so they survive
// the JSON round trip unchanged.
type spanEvent struct {
	Name  string     `json:"n"`
	Time  time.Time  `json:"t"`
	Attrs []kvRecord `json:"a,omitempty"`
}

type kvRecord struct {
	K string   `json:"k"`
	S *string  `json:"s,omitempty"`
	I *int64   `json:"i,omitempty"`
	F *float64 `json:"f,omitempty"`
	B *bool    `json:"b,omitempty"`
	L []string `json:"l,omitempty"`
}

// toolRef remembers a tool span already emitted.
type toolRef struct {
	ID      string          `json:"id"`
	Name    string          `json:"n"`
	Command string          `json:"c,omitempty"`  // Shell command
	Args    json.RawMessage `json:"a,omitempty"`  // kept for Task and MCP tools only
	Dur     float64         `json:"d,omitempty"`  // duration ms
	HasDur  bool            `json:"hd,omitempty"` //
	End     time.Time       `json:"t1"`
	Matched bool            `json:"m,omitempty"` // an after* event was folded into it
	Linked  bool            `json:"l,omitempty"` // a subagent hangs under it
}

// after is an afterShellExecution or afterMCPExecution event. Each command
// also fires postToolUse / postToolUseFailure; an after* event becomes a span
// of its own only when no tool event covers it by the time the turn ends.
type after struct {
	Kind    string          `json:"k"` // shell | mcp
	Key     string          `json:"key"`
	Name    string          `json:"n"`
	Command string          `json:"c,omitempty"`
	Args    json.RawMessage `json:"a,omitempty"`
	Result  string          `json:"r,omitempty"`
	Dur     float64         `json:"d,omitempty"`
	HasDur  bool            `json:"hd,omitempty"`
	At      time.Time       `json:"at"`
	Sandbox *bool           `json:"sb,omitempty"`
	Matched bool            `json:"m,omitempty"` // a tool event covers it
	Emitted bool            `json:"e,omitempty"` // emitted as its own span
}

// subagent is one subagentStart / subagentStop pair (either may be missing).
type subagent struct {
	ID         string         `json:"id,omitempty"`
	Key        string         `json:"key"`
	Type       string         `json:"ty,omitempty"`
	Task       string         `json:"task,omitempty"`
	Desc       string         `json:"desc,omitempty"`
	Summary    string         `json:"sum,omitempty"`
	Model      string         `json:"m,omitempty"`
	ToolCallID string         `json:"tc,omitempty"`
	Transcript string         `json:"tp,omitempty"`
	GitBranch  string         `json:"gb,omitempty"`
	Parallel   *bool          `json:"par,omitempty"`
	Counts     map[string]int `json:"cnt,omitempty"`
	Modified   []string       `json:"mod,omitempty"`
	Status     string         `json:"status,omitempty"`
	Start      time.Time      `json:"t0,omitzero"`
	End        time.Time      `json:"t1,omitzero"`
	Parent     string         `json:"parent,omitempty"` // tool_use_id of the Task tool span
	Stopped    bool           `json:"stopped,omitempty"`
	Emitted    bool           `json:"emitted,omitempty"`
}

// txState is the transcript as parsed so far: a list of transcript turns
// (a user query and the assistant lines after it), and the incremental
// parser state of the old plain-text format.
type txState struct {
	Turns []*txTurn `json:"turns,omitempty"`
	Count int       `json:"count,omitempty"` // transcript turns seen (next absolute index)
	Next  int       `json:"next,omitempty"`  // first index not consumed by a hook turn

	// Plain-text (.txt) parser.
	Role    string `json:"role,omitempty"` // user | assistant
	Mode    string `json:"mode,omitempty"` // text | thinking | tool | result
	UserBuf string `json:"ub,omitempty"`
}

type txTurn struct {
	Idx     int          `json:"i"`
	Prompt  string       `json:"p,omitempty"`
	Parts   []genai.Part `json:"parts,omitempty"`
	Bytes   int          `json:"b,omitempty"`
	Tools   []txTool     `json:"tools,omitempty"`
	Ended   bool         `json:"ended,omitempty"`
	Status  string       `json:"status,omitempty"`
	Error   string       `json:"err,omitempty"`
	Claimed string       `json:"claimed,omitempty"` // key of the hook turn using it
}

type txTool struct {
	Name  string          `json:"n"`
	Input json.RawMessage `json:"a,omitempty"`
	Args  [][2]string     `json:"kv,omitempty"` // .txt "  key: value" lines, in order
}
