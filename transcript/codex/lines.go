package codex

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/weave-agentd/weave-agentd/transcript"
)

// record is one rollout line: {"timestamp","ordinal","type","payload"}.
type record struct {
	Timestamp string   `json:"timestamp"`
	Type      string   `json:"type"`
	Payload   *payload `json:"payload"`
}

// payload holds the fields the builder uses of every record type (one
// decode per line; fields a type does not have stay zero). Fields whose
// type differs between record types, or may in a newer version, are kept
// raw.
type payload struct {
	Type   string `json:"type"`
	TurnID string `json:"turn_id"`
	// Passthrough carries the turn of a response_item.
	Passthrough *struct {
		TurnID string `json:"turn_id"`
	} `json:"internal_chat_message_metadata_passthrough"`

	// session_meta (ID, SessionID and ParentThreadID also name a
	// subagent's thread, its conversation and the thread that spawned it)
	ID               string          `json:"id"`
	SessionID        string          `json:"session_id"`
	ParentThreadID   string          `json:"parent_thread_id"`
	Cwd              string          `json:"cwd"`
	CLIVersion       string          `json:"cli_version"`
	ModelProvider    string          `json:"model_provider"`
	Originator       string          `json:"originator"`
	Source           json.RawMessage `json:"source"`
	BaseInstructions json.RawMessage `json:"base_instructions"`

	// turn_context
	Model             string          `json:"model"`
	ApprovalPolicy    json.RawMessage `json:"approval_policy"`
	SandboxPolicy     json.RawMessage `json:"sandbox_policy"`
	Effort            json.RawMessage `json:"effort"`
	CollaborationMode *struct {
		Settings *struct {
			ReasoningEffort json.RawMessage `json:"reasoning_effort"`
		} `json:"settings"`
	} `json:"collaboration_mode"`

	// event_msg (RootTurnID: task_started's, the first turn of the chain
	// of threads that led to it)
	RootTurnID       string          `json:"root_turn_id"`
	LastAgentMessage json.RawMessage `json:"last_agent_message"`
	Error            *taskError      `json:"error"` // a failed turn's task_complete
	Reason           json.RawMessage `json:"reason"`
	Message          json.RawMessage `json:"message"` // error / user_message text
	Item             *item           `json:"item"`
	StartedAtMS      int64           `json:"started_at_ms"`
	CompletedAtMS    int64           `json:"completed_at_ms"`

	// response_item
	Role      string          `json:"role"`
	Content   content         `json:"content"`
	Summary   content         `json:"summary"`
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"` // function_call: a JSON document in a string
	Input     json.RawMessage `json:"input"`     // custom_tool_call: free text
	CallID    string          `json:"call_id"`
	Output    content         `json:"output"`

	// token_usage_record
	ResponseID string `json:"response_id"`
	Usage      *usage `json:"usage"`
	// event_msg token_count: the session's running total (null before the
	// first model call), and the latest call's usage.
	Info *struct {
		Total *usage `json:"total_token_usage"`
		Last  *usage `json:"last_token_usage"`
	} `json:"info"`

	// compacted: Message is the summary (with Codex's preamble);
	// replacement_history the items that replace the history.
	ReplacementHistory itemCount `json:"replacement_history"`
}

// itemCount is the length of a JSON array, decoded without keeping its
// elements.
type itemCount int

func (n *itemCount) UnmarshalJSON(data []byte) error {
	var items []struct{}
	if err := json.Unmarshal(data, &items); err != nil {
		return err
	}
	*n = itemCount(len(items))
	return nil
}

// item is an event_msg item_completed's item.
type item struct {
	Type     string    `json:"type"` // UserMessage, Reasoning, CommandExecution, AgentMessage …
	ID       string    `json:"id"`   // a CommandExecution's: the call_id
	Content  content   `json:"content"`
	Status   string    `json:"status"`
	ExitCode *int64    `json:"exit_code"`
	Duration *duration `json:"duration"`

	// CollabAgentToolCall (multi_agent_v1): Tool (spawn_agent, wait …)
	// names the threads it acts on and, per thread, its state: a string
	// while it runs ("pending_init"), {"completed": answer} or another
	// one-key object once it is over.
	Tool      string                 `json:"tool"`
	Receivers firstOf[string]        `json:"receiver_thread_ids"`
	Agents    firstOf[receiverAgent] `json:"receiver_agents"`
	Prompt    string                 `json:"prompt"`
	Model     string                 `json:"model"`
	States    agentStates            `json:"agents_states"`
}

// maxListed bounds the threads one multi_agent_v1 item names that are
// decoded (a turn keeps maxAgents subagents).
const maxListed = 4 * maxAgents

// firstOf is a JSON array of which the first maxListed elements are
// decoded, one at a time: a line can list a million. Anything but an
// array decodes to none.
type firstOf[T any] []T

func (l *firstOf[T]) UnmarshalJSON(raw []byte) error {
	*l, _, _ = transcript.DecodeFirst[T](raw, maxListed) // what decoded before an error
	return nil
}

// agentStates is an agents_states object of which the first maxListed
// members are decoded, one at a time. Anything but an object decodes to
// none.
type agentStates map[string]json.RawMessage

func (m *agentStates) UnmarshalJSON(raw []byte) error {
	*m = nil
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	states := agentStates{}
	for len(states) < maxListed && dec.More() {
		k, err := dec.Token()
		if err != nil {
			break
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			break
		}
		states[k.(string)] = v
	}
	*m = states
	return nil
}

type receiverAgent struct {
	ThreadID string `json:"thread_id"`
	Nickname string `json:"agent_nickname"`
}

type duration struct {
	Secs  int64 `json:"secs"`
	Nanos int64 `json:"nanos"`
}

func (d *duration) value() time.Duration {
	if d == nil || d.Secs < 0 || d.Nanos < 0 || d.Secs > 1<<32 {
		return 0
	}
	return time.Duration(d.Secs)*time.Second + time.Duration(d.Nanos)
}

// usage is one model call's tokens, as the OpenAI Responses API counts
// them: input_tokens includes the cached ones, output_tokens the reasoning
// ones.
type usage struct {
	Input     int64 `json:"input_tokens"`
	Cached    int64 `json:"cached_input_tokens"`
	CacheW    int64 `json:"cache_write_input_tokens"`
	Output    int64 `json:"output_tokens"`
	Reasoning int64 `json:"reasoning_output_tokens"`
}

func (u usage) zero() bool { return u == usage{} }

// covers reports whether u, a running total, is no less than prev in every
// count (it grew from prev rather than started again).
func (u usage) covers(prev usage) bool {
	return u.Input >= prev.Input && u.Cached >= prev.Cached && u.CacheW >= prev.CacheW &&
		u.Output >= prev.Output && u.Reasoning >= prev.Reasoning
}

func (u usage) minus(prev usage) usage {
	return usage{Input: u.Input - prev.Input, Cached: u.Cached - prev.Cached, CacheW: u.CacheW - prev.CacheW,
		Output: u.Output - prev.Output, Reasoning: u.Reasoning - prev.Reasoning}
}

// turnID is the turn a record names, "" when it names none.
func (p *payload) turnID() string {
	if p.TurnID != "" {
		return p.TurnID
	}
	if p.Passthrough != nil {
		return p.Passthrough.TurnID
	}
	return ""
}

var errNoType = errors.New("no record type")

// parseLine decodes one rollout line. A field of an unexpected type is
// left zero (a newer version may change one); a line that is not a JSON
// object with a type is an error.
func parseLine(line []byte) (*record, time.Time, error) {
	var r record
	if err := json.Unmarshal(line, &r); err != nil {
		var te *json.UnmarshalTypeError
		if !errors.As(err, &te) {
			return nil, time.Time{}, err
		}
	}
	if r.Type == "" || r.Payload == nil {
		return nil, time.Time{}, errNoType
	}
	ts, _ := time.Parse(time.RFC3339Nano, r.Timestamp)
	return &r, ts, nil
}

// jsonText is a raw JSON string's value; "" for anything else.
func jsonText(raw json.RawMessage) string {
	var s string
	if len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
		return s
	}
	return ""
}

// content is a content list ([{type, text}]: input_text, output_text,
// summary_text, reasoning_text, Text, text …), a plain string, or (a tool
// output) an object holding one of those as "content". It is decoded as it
// is read, one block at a time, never copied whole: its text stops past
// maxText bytes (the builder clips and counts that), and at most
// maxPromptParts blocks are kept.
type content struct {
	Text   string  // the blocks' text, joined by blank lines
	Blocks []block // the blocks (texts cut as Text is)
	Cut    bool    // blocks were left out
}

type block struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

func (c *content) UnmarshalJSON(raw []byte) error {
	*c = content{}
	switch {
	case len(raw) > 0 && raw[0] == '"':
		return json.Unmarshal(raw, &c.Text)
	case len(raw) > 0 && raw[0] == '{':
		var obj struct {
			Content content `json:"content"`
		}
		if err := json.Unmarshal(raw, &obj); err != nil {
			return nil // not a content holder: no text
		}
		*c = obj.Content
		return nil
	case len(raw) == 0 || raw[0] != '[':
		return nil
	}
	var sb strings.Builder
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return nil
	}
	for dec.More() {
		if sb.Len() > maxText {
			c.Cut = true // Text is then longer than maxText: clipped
			break
		}
		var b block
		if err := dec.Decode(&b); err != nil {
			var te *json.UnmarshalTypeError
			if !errors.As(err, &te) {
				break
			}
		}
		if b.Text != "" {
			if sb.Len() > 0 {
				sb.WriteString("\n\n")
			}
			sb.WriteString(b.Text)
		}
		if len(c.Blocks) < maxPromptParts {
			c.Blocks = append(c.Blocks, b)
		} else {
			c.Cut = true
		}
	}
	c.Text = sb.String()
	return nil
}

// rawString is a JSON value shown as a string: a string's value, anything
// else as its JSON ("" for null).
// taskError is the error of a failed turn's task_complete (0.171.0, an API
// error with no retries left): {"message": "We’re currently experiencing
// high demand…", "codex_error_info": "internal_server_error"}; the info may
// also be an object keyed by its kind.
type taskError struct {
	Message string          `json:"message"`
	Info    json.RawMessage `json:"codex_error_info"`
}

// kind is a short error.type: the info's name, else "error".
func (e *taskError) kind() string {
	var obj map[string]json.RawMessage
	if s := jsonText(e.Info); s != "" {
		return prefix(s, 64)
	} else if json.Unmarshal(e.Info, &obj) == nil && len(obj) == 1 {
		for k := range obj {
			return prefix(k, 64)
		}
	}
	return "error"
}

func rawString(raw json.RawMessage) string {
	if s := jsonText(raw); s != "" {
		return s
	}
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	return string(raw)
}

// policyType is a sandbox or approval policy's name: a string, or an
// object's "type".
func policyType(raw json.RawMessage) string {
	if s := jsonText(raw); s != "" {
		return s
	}
	var obj struct {
		Type string `json:"type"`
	}
	if len(raw) > 0 && raw[0] == '{' && json.Unmarshal(raw, &obj) == nil {
		return obj.Type
	}
	return ""
}
