package claude

import (
	"encoding/json"
	"time"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// stateVersion changes whenever the state encoding changes incompatibly.
const stateVersion = 2

// state is everything a Builder knows. MarshalState encodes it whole, so a
// restored builder continues exactly where the old one stopped.
type state struct {
	StateVersion int `json:"v"`

	Main     string          `json:"main,omitempty"`
	SubFiles []string        `json:"sub,omitempty"`
	FileSeen map[string]bool `json:"seen,omitempty"` // files that delivered at least one line
	Scanned  time.Time       `json:"scan,omitzero"`  // last discovery rescan (tick time)

	Version string    `json:"ver,omitempty"` // latest Claude Code version seen
	Now     time.Time `json:"now,omitzero"`  // latest Tick

	Turns []*turn `json:"turns,omitempty"` // open and recently closed turns, oldest first
	Cur   string  `json:"cur,omitempty"`   // key of the main thread's current turn
	Seq   int     `json:"seq,omitempty"`   // turns opened so far

	Agents     []*agent              `json:"agents,omitempty"`   // subagents (and compaction calls), oldest first
	AgentTools map[string]*agentTool `json:"atools,omitempty"`   // Agent/Task tool calls by tool_use id
	SideUUIDs  map[string]string     `json:"side,omitempty"`     // inline sidechain line uuid -> agent id (1.0.x)
	Gone       []string              `json:"gone,omitempty"`     // ids of agents emitted and forgotten
	HookTools  map[string]*hookTool  `json:"htools,omitempty"`   // PostToolUse data by tool_use id
	HooksSeen  bool                  `json:"hooks,omitempty"`    // PostToolUse hooks arrive for this session
	Compact    *compaction           `json:"pcompact,omitempty"` // compaction seen between turns

	// Request shape (prompt_snapshot / api-request-shape), raw JSON.
	System json.RawMessage `json:"sys,omitempty"`
	Tools  json.RawMessage `json:"tools,omitempty"`
	// Shapes are the request shapes of turns not yet sent, by shapeKey.
	Shapes map[string]*shape `json:"shapes,omitempty"`

	Emitted transcript.Recent `json:"emitted,omitzero"` // recent span ids emitted (guard against doubles)

	// Title is gen_ai.conversation.name, fixed when the first span is built.
	Title string `json:"title,omitempty"`
	// SentSys and SentTools are digests of the system instructions and tool
	// definitions last sent on a turn span: a turn repeats them only when
	// they changed.
	SentSys   string `json:"ssys,omitempty"`
	SentTools string `json:"stools,omitempty"`
	// Items counts the messages in the main thread's context since the
	// start or the latest compaction (weave.compaction.items_before).
	Items int `json:"items,omitempty"`
	// Counted is the usage of every chat span emitted so far, by model;
	// Cost the latest cost-state record's (Claude Code's own totals), and
	// CostSeq the number of cost-state records read.
	Counted map[string]tokens `json:"counted,omitempty"`
	Cost    map[string]tokens `json:"cost,omitempty"`
	CostSeq int               `json:"costseq,omitempty"`
	// CompactCalls are compactions whose model call is not in the
	// transcript, waiting for a cost-state record to tell their usage.
	CompactCalls []*compactCall `json:"ccalls,omitempty"`

	Stats transcript.Stats `json:"stats"`
}

// tokens are usage counts; In excludes cache reads and writes, as the
// Anthropic API reports it.
type tokens struct {
	In          int64 `json:"i,omitempty"`
	Out         int64 `json:"o,omitempty"`
	CacheRead   int64 `json:"cr,omitempty"`
	CacheCreate int64 `json:"cc,omitempty"`
	Reasoning   int64 `json:"r,omitempty"`
}

// maxWith raises each field to the value in u (usage is repeated on every
// content block of a message; older versions put placeholders on most).
func (t *tokens) maxWith(u *usage) {
	if u == nil {
		return
	}
	cc := u.CacheCreationInputTokens
	if cc == 0 && u.CacheCreation != nil {
		cc = u.CacheCreation.Ephemeral5m + u.CacheCreation.Ephemeral1h
	}
	var r int64
	if u.OutputTokensDetails != nil {
		r = u.OutputTokensDetails.ThinkingTokens
	}
	t.In = max(t.In, u.InputTokens)
	t.Out = max(t.Out, u.OutputTokens)
	t.CacheRead = max(t.CacheRead, u.CacheReadInputTokens)
	t.CacheCreate = max(t.CacheCreate, cc)
	t.Reasoning = max(t.Reasoning, r)
}

func (t *tokens) add(o tokens) {
	t.In += o.In
	t.Out += o.Out
	t.CacheRead += o.CacheRead
	t.CacheCreate += o.CacheCreate
	t.Reasoning += o.Reasoning
}

// sub is t less o, each field at least zero.
func (t tokens) sub(o tokens) tokens {
	return tokens{
		In:          max(0, t.In-o.In),
		Out:         max(0, t.Out-o.Out),
		CacheRead:   max(0, t.CacheRead-o.CacheRead),
		CacheCreate: max(0, t.CacheCreate-o.CacheCreate),
		Reasoning:   max(0, t.Reasoning-o.Reasoning),
	}
}

func (t tokens) isZero() bool { return t == tokens{} }

// thread is one conversation thread: a turn's main thread or a subagent's.
// It accumulates model responses until they are complete and tool calls
// until their results arrive.
type thread struct {
	Model    string               `json:"m,omitempty"`
	Msgs     map[string]*msgAcc   `json:"msgs,omitempty"` // open responses by message id
	Open     []string             `json:"open,omitempty"` // their order
	DoneMsgs map[string]bool      `json:"dm,omitempty"`   // responses already emitted
	LastMsg  string               `json:"lm,omitempty"`   // latest response id
	Answer   []string             `json:"ans,omitempty"`  // text blocks of the latest response
	Finish   string               `json:"fin,omitempty"`  // its stop_reason
	HasTool  bool                 `json:"ht,omitempty"`   // the latest response asked for a tool
	Pending  map[string]*toolCall `json:"pend,omitempty"`
	LastTime time.Time            `json:"lt,omitzero"`  // timestamp of the thread's previous line
	MaxTok   int64                `json:"mt,omitempty"` // max_tokens of the latest API request
	Chats    int                  `json:"chats,omitempty"`
}

// msgAcc accumulates one model response (one message.id) over its lines.
type msgAcc struct {
	Usage     tokens       `json:"u"`
	Model     string       `json:"m,omitempty"`
	RequestID string       `json:"rq,omitempty"`
	Parts     []genai.Part `json:"p,omitempty"`
	Blocks    []int        `json:"bi,omitempty"` // apiBlockIndex values seen
	Finish    string       `json:"f,omitempty"`
	Start     time.Time    `json:"t0"`
	End       time.Time    `json:"t1"`
	APIError  bool         `json:"ae,omitempty"`
	MaxTok    int64        `json:"mt,omitempty"` // the request's max_tokens
}

// toolCall is a tool_use waiting for (or holding, until its hook arrives)
// its result.
type toolCall struct {
	ID    string          `json:"id"`
	Name  string          `json:"n"`
	Args  json.RawMessage `json:"a,omitempty"`
	Start time.Time       `json:"t0"`

	Done     bool      `json:"d,omitempty"`
	End      time.Time `json:"t1,omitzero"`
	Result   string    `json:"r,omitempty"`
	IsError  bool      `json:"e,omitempty"`
	ErrType  string    `json:"et,omitempty"`
	Deadline time.Time `json:"dl,omitzero"` // emit without hook data after this tick time
}

// hookTool is what PostToolUse / PostToolUseFailure said about a tool call.
type hookTool struct {
	DurationMS float64   `json:"d"`
	HasDur     bool      `json:"hd,omitempty"`
	Error      string    `json:"e,omitempty"`
	Failed     bool      `json:"f,omitempty"`
	Interrupt  bool      `json:"i,omitempty"`
	At         time.Time `json:"at,omitzero"`
}

// compaction is a compact_boundary and what followed it.
type compaction struct {
	Time       time.Time `json:"t"`
	Trigger    string    `json:"tr,omitempty"`
	PreTokens  int64     `json:"pre,omitempty"`
	PostTokens int64     `json:"post,omitempty"`
	DurationMs float64   `json:"dur,omitempty"`
	Summary    string    `json:"sum,omitempty"`
	Agent      string    `json:"ag,omitempty"` // acompact agent holding its model call
	UUID       string    `json:"u,omitempty"`  // the compact_boundary line
	// ItemsBefore and ItemsAfter count the messages in the context before
	// and after it.
	ItemsBefore int `json:"ib,omitempty"`
	ItemsAfter  int `json:"ia,omitempty"`
	CostSeq     int `json:"cs,omitempty"` // cost-state records read before it
}

// compactCall is the model call of a compaction that the transcript does
// not record (2.1.328 /compact): its chat span waits for the next cost-state
// record, whose totals less what was counted are its usage.
type compactCall struct {
	Session string    `json:"s"`
	TurnKey string    `json:"tk"`
	Version string    `json:"ver,omitempty"`
	Key     string    `json:"k"` // span id key
	Model   string    `json:"m,omitempty"`
	Start   time.Time `json:"t0"`
	End     time.Time `json:"t1"`
	CostSeq int       `json:"cs,omitempty"`
}

// turn is one user prompt and everything it caused: one trace.
type turn struct {
	Key     string `json:"k"`
	Session string `json:"s"` // conversation id the ids derive from
	Ordinal int    `json:"n"`

	Start time.Time `json:"t0"`
	End   time.Time `json:"t1"`
	// LastEvent is the receive time of the latest hook event for the turn;
	// SeenAt the daemon time (latest Tick) when its latest input arrived.
	LastEvent time.Time `json:"le,omitzero"`
	SeenAt    time.Time `json:"sa,omitzero"`

	Weak     bool         `json:"weak,omitempty"` // opened by a slash-command wrapper
	PromptID string       `json:"pid,omitempty"`
	Prompt   []genai.Part `json:"p,omitempty"`
	// PromptLines are the uuids of the lines that made Prompt.
	PromptLines []string `json:"pl,omitempty"`
	// ShapeKey names the turn's request shape in state.Shapes; ShapeReq
	// tells it came from an api-request-shape (not a prompt_snapshot).
	ShapeKey string            `json:"shk,omitempty"`
	ShapeReq bool              `json:"shr,omitempty"`
	Version  string            `json:"ver,omitempty"`
	Extra    map[string]string `json:"x,omitempty"` // claude_code.* attributes

	Th thread `json:"th"`

	Compactions []*compaction `json:"cmp,omitempty"`
	APIErrors   []apiErrEvent `json:"apie,omitempty"`

	Status    genai.StatusCode `json:"st,omitempty"`
	StatusMsg string           `json:"stm,omitempty"`
	ErrorType string           `json:"et,omitempty"`

	Ending   bool      `json:"ending,omitempty"` // final response seen (end_turn, no pending tools)
	StopAt   time.Time `json:"stopAt,omitzero"`  // Stop hook received, waiting for the transcript
	StopText string    `json:"stopText,omitempty"`
	Done     bool      `json:"done,omitempty"`   // the turn is over (its span may wait for children)
	Closed   bool      `json:"closed,omitempty"` // turn span emitted (or dropped)
}

// shape is a request's system prompt and tool definitions, raw JSON.
type shape struct {
	System json.RawMessage `json:"sys,omitempty"`
	Tools  json.RawMessage `json:"tools,omitempty"`
}

type apiErrEvent struct {
	Time    time.Time `json:"t"`
	Status  int       `json:"s,omitempty"`
	Type    string    `json:"ty,omitempty"`
	Message string    `json:"m,omitempty"`
	Attempt int       `json:"a,omitempty"`
}

func (t *turn) traceID() genai.TraceID {
	return genai.NewTraceID(genai.AgentClaudeCode, t.Session, t.Key)
}

// agentTool is an Agent/Task tool call, the link between a parent thread
// and the subagent it starts.
type agentTool struct {
	Turn       string `json:"t"`            // turn key
	Session    string `json:"s"`            // conversation id of that turn
	Owner      string `json:"o,omitempty"`  // agent id of the calling thread ("" = main)
	Type       string `json:"ty,omitempty"` // subagent_type
	Desc       string `json:"d,omitempty"`
	PromptKey  string `json:"pk,omitempty"`
	Agent      string `json:"a,omitempty"` // linked agent id
	Background bool   `json:"bg,omitempty"`
	Result     bool   `json:"r,omitempty"` // its tool_result arrived
	ResultText string `json:"rt,omitempty"`
}

// agent is one subagent run (or a compaction call, or a 1.0.x inline sidechain).
type agent struct {
	ID      string `json:"id"`
	File    string `json:"f,omitempty"`
	Type    string `json:"ty,omitempty"`
	Desc    string `json:"d,omitempty"`
	Compact bool   `json:"c,omitempty"`  // agent-acompact-*: the compaction's model call
	Inline  bool   `json:"in,omitempty"` // 1.0.x sidechain inside the main file

	ToolUseID string `json:"tu,omitempty"` // parent tool call, once linked
	TurnKey   string `json:"tk,omitempty"` // trace, once linked
	Session   string `json:"s,omitempty"`
	Owner     string `json:"o,omitempty"` // parent agent id for nested subagents
	Linked    bool   `json:"l,omitempty"`

	PromptKey string       `json:"pk,omitempty"`
	Prompt    []genai.Part `json:"p,omitempty"`
	Version   string       `json:"ver,omitempty"`
	Start     time.Time    `json:"t0,omitzero"`
	End       time.Time    `json:"t1,omitzero"`
	SeenAt    time.Time    `json:"sa,omitzero"`
	Th        thread       `json:"th"`

	Buffer   []string `json:"buf,omitempty"` // raw lines waiting for a link
	BufBytes int      `json:"bb,omitempty"`

	// System and Tools are the subagent's own request shape, when its
	// file records one.
	System json.RawMessage `json:"sys,omitempty"`
	Tools  json.RawMessage `json:"tools,omitempty"`

	Background bool             `json:"bg,omitempty"`
	StopAt     time.Time        `json:"stopAt,omitzero"`
	Status     genai.StatusCode `json:"st,omitempty"`
	StatusMsg  string           `json:"stm,omitempty"`
	ErrorType  string           `json:"et,omitempty"`
	Ending     bool             `json:"ending,omitempty"`
	Done       bool             `json:"done,omitempty"`
	Closed     bool             `json:"closed,omitempty"`
}
