package codex

import (
	"encoding/json"
	"time"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// stateVersion changes whenever the state encoding changes incompatibly.
// (2: Records and Counted. A version 1 state is taken, with Records set:
// the builder that wrote it read usage from token_usage_records only, so
// token_count lines after it must not count the same calls again.)
const stateVersion = 2

// state is everything a Builder knows. MarshalState encodes it whole, so a
// restored builder continues exactly where the old one stopped.
type state struct {
	V int `json:"v"`

	Main string    `json:"main,omitempty"`
	Now  time.Time `json:"now,omitzero"` // latest Tick

	Meta meta `json:"meta"`

	Turns []*turn `json:"turns,omitempty"` // open and recently closed turns, oldest first
	Cur   string  `json:"cur,omitempty"`   // id of the latest turn started
	// Prompt is a UserPromptSubmit's prompt for a turn not started yet.
	Prompt *hookPrompt `json:"prompt,omitempty"`
	Seq    int         `json:"seq,omitempty"` // turns started so far

	Emitted transcript.Recent `json:"emitted,omitzero"` // recent span ids emitted (guard against doubles)

	// Title is gen_ai.conversation.name, fixed when the first span is built.
	Title string `json:"title,omitempty"`
	// Items counts the response items in the model's history (since the
	// session began or its latest compaction): weave.compaction.items_before.
	Items int `json:"items,omitempty"`
	// Compact is a compaction read while no turn was open: it goes on the
	// next turn's span.
	Compact *compaction `json:"compact,omitempty"`

	// Records: a token_usage_record was read, so the rollout tells each
	// model call's usage that way, not by its token_count lines. Counted is
	// the latest token_count's running total (see tokenCount).
	Records bool   `json:"recs,omitempty"`
	Counted *usage `json:"counted,omitempty"`

	// SentSys is the digest of the system instructions last sent on a turn
	// span: a turn repeats them only when they changed.
	SentSys string `json:"ssys,omitempty"`

	Stats transcript.Stats `json:"stats"`
}

// meta is what session_meta records said (the latest one: a resumed
// session may write another).
type meta struct {
	Cwd        string `json:"cwd,omitempty"`
	Version    string `json:"ver,omitempty"`
	Provider   string `json:"prov,omitempty"` // model_provider as configured
	Originator string `json:"orig,omitempty"`
	Source     string `json:"src,omitempty"`
	// System is base_instructions' text (capped).
	System string `json:"sys,omitempty"`

	// A subagent's thread (session_meta with parent_thread_id): Root is
	// the conversation it belongs to (session_id, the spawning session's),
	// Agent its agent id (its thread id), AgentType its role.
	Root      string `json:"root,omitempty"`
	Agent     string `json:"agent,omitempty"`
	AgentType string `json:"atype,omitempty"`
}

// turn is one task: a user prompt and everything it caused, one trace.
type turn struct {
	ID      string `json:"id"` // turn_id: the trace's turn key
	Ordinal int    `json:"n"`

	Start time.Time `json:"t0"`
	End   time.Time `json:"t1"` // latest record time in the turn
	// SeenAt is the daemon time (latest Tick) when its latest line came;
	// LastEvent the receive time of its latest hook event.
	SeenAt    time.Time `json:"sa,omitzero"`
	LastEvent time.Time `json:"le,omitzero"`

	Model    string `json:"m,omitempty"`
	Cwd      string `json:"cwd,omitempty"`
	Approval string `json:"ap,omitempty"`
	Sandbox  string `json:"sb,omitempty"`
	Effort   string `json:"ef,omitempty"`
	Version  string `json:"ver,omitempty"`

	Prompt    []genai.Part `json:"p,omitempty"`
	PromptSrc string       `json:"ps,omitempty"` // the record kind the prompt came from
	// HookPrompt is the UserPromptSubmit hook's prompt, for a turn span
	// sent before the prompt's line was read.
	HookPrompt string `json:"hp,omitempty"`
	Answer     string `json:"ans,omitempty"`

	// RootTurn is a subagent turn's root_turn_id: the turn of the
	// conversation whose trace it joins.
	RootTurn string `json:"rt,omitempty"`
	// Agents are the subagents it spawned, drawn when it completes.
	Agents []*subagent `json:"agents,omitempty"`

	Call  call             `json:"call"`            // the model call in progress
	Calls int              `json:"calls,omitempty"` // model calls emitted
	Tools map[string]*tool `json:"tools,omitempty"` // tool calls waiting for their output, by call_id
	Order []string         `json:"order,omitempty"` // their call_ids, oldest first

	Status    genai.StatusCode `json:"st,omitempty"`
	StatusMsg string           `json:"stm,omitempty"`
	ErrorType string           `json:"et,omitempty"`

	// Compactions are the context compactions during the turn.
	Compactions []compaction `json:"cmp,omitempty"`

	StopAt time.Time `json:"stop,omitzero"`  // Stop or SessionEnd hook: finish soon even without task_complete
	Done   bool      `json:"done,omitempty"` // over: its span is sent
	// Late: finished by a timeout (Stop or SessionEnd without task_complete,
	// or IdleTimeout), so lines that name it may still come (a daemon
	// behind on the file, a command running for long): they land in its
	// trace until its task_complete, the next turn, or IdleTimeout of quiet.
	Late bool `json:"late,omitempty"`
}

// compaction is one `compacted` record: the summary (content), and the
// history's length before and after it.
type compaction struct {
	Summary string `json:"s,omitempty"`
	Before  int    `json:"b"`
	After   int    `json:"a"`
}

// maxCompactions bounds the compactions kept per turn (the first and the
// latest make the span's attributes).
const maxCompactions = 8

// subagent is a thread a turn spawned (a spawn_agent call's
// CollabAgentToolCall item), or a later run a send_input call started in a
// thread (FollowUp), and what the turn saw of its end.
type subagent struct {
	ID   string `json:"id"`   // its thread id: gen_ai.agent.id
	Call string `json:"call"` // the spawn_agent (send_input) call_id
	// FollowUp: a send_input's run; Turn is then the thread's turn that
	// runs it (the call's submission_id), "" until the output tells it.
	FollowUp bool      `json:"fu,omitempty"`
	Turn     string    `json:"turn,omitempty"`
	Type     string    `json:"type,omitempty"`
	Nick     string    `json:"nick,omitempty"`
	Model    string    `json:"m,omitempty"`
	Prompt   string    `json:"p,omitempty"`
	Answer   string    `json:"ans,omitempty"`
	Start    time.Time `json:"t0"`
	End      time.Time `json:"t1,omitzero"` // when a wait saw it over
	Error    string    `json:"err,omitempty"`
}

// maxAgents bounds the subagents kept per turn.
const maxAgents = 64

type hookPrompt struct {
	Turn string `json:"t"`
	Text string `json:"p"`
}

// call is the model call in progress: its output items since the previous
// token_usage_record, and when its request went out.
type call struct {
	Start   time.Time    `json:"t0,omitzero"` // the latest input before its first output item
	Parts   []genai.Part `json:"p,omitempty"`
	Bytes   int          `json:"b,omitempty"`
	Dropped int          `json:"d,omitempty"` // parts not kept (maxParts, maxCallBytes)
}

func (c *call) empty() bool { return len(c.Parts) == 0 && c.Dropped == 0 }

// tool is one function_call (or custom_tool_call) waiting for its output,
// with what its CommandExecution item said.
type tool struct {
	ID   string          `json:"id"`
	Name string          `json:"n"`
	Args json.RawMessage `json:"a,omitempty"`
	At   time.Time       `json:"at"` // the function_call record

	Exec     bool      `json:"x,omitempty"` // a CommandExecution item came
	Start    time.Time `json:"t0,omitzero"`
	End      time.Time `json:"t1,omitzero"`
	ExitCode *int64    `json:"ec,omitempty"`
	Status   string    `json:"s,omitempty"`

	AgentType string `json:"aty,omitempty"` // spawn_agent's agent_type argument

	// Interrupted: its output says "aborted by user" (the user stopped the
	// turn while it ran). Its span waits for the turn's end, with Result:
	// Codex writes the CommandExecution (exit -1) after turn_aborted, or
	// never.
	Interrupted bool   `json:"int,omitempty"`
	Result      string `json:"r,omitempty"`
}
