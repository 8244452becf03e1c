package codexcli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
)

// TokenUsage is a rollout usage object (token_usage_record.usage).
type TokenUsage struct {
	InputTokens           int `json:"input_tokens"` // includes the cached tokens
	CachedInputTokens     int `json:"cached_input_tokens"`
	CacheWriteInputTokens int `json:"cache_write_input_tokens"`
	OutputTokens          int `json:"output_tokens"` // includes the reasoning tokens
	ReasoningOutputTokens int `json:"reasoning_output_tokens"`
	TotalTokens           int `json:"total_tokens"`
}

// UsageRecord is one token_usage_record: the usage of one model call.
type UsageRecord struct {
	TurnID     string     `json:"turn_id"`
	ResponseID string     `json:"response_id"`
	Usage      TokenUsage `json:"usage"`
}

// FunctionCall is a function_call response item joined with its output and
// the CommandExecution item Codex recorded for it (shell calls only).
type FunctionCall struct {
	TurnID    string
	CallID    string
	Name      string
	Arguments string
	Output    string // function_call_output.output ("" until it is written)
	HasOutput bool
	// Shell calls: the CommandExecution item.
	ExitCode *int
	Status   string // "completed", "failed"
}

// Rollout is what the tests read from a Codex rollout file.
type Rollout struct {
	SessionID string
	Lines     int
	// Types counts the records by type ("event_msg/task_started" for events).
	Types map[string]int
	// Turns are the turn ids of task_started events, in order.
	Turns []string
	// Complete are the turn ids of task_complete events.
	Complete []string
	// Prompts are the user messages' texts (item_completed UserMessage), in order.
	Prompts []string
	// Answers are the assistant messages' texts (item_completed AgentMessage), in order.
	Answers []string
	Usage   []UsageRecord
	Calls   []*FunctionCall
	// Models are turn_context models by turn id.
	Models map[string]string
}

// ReadRollout parses a rollout file. Unknown records are counted and skipped.
func ReadRollout(path string) (*Rollout, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := &Rollout{Types: map[string]int{}, Models: map[string]string{}}
	byCall := map[string]*FunctionCall{}
	call := func(id string) *FunctionCall {
		c, ok := byCall[id]
		if !ok {
			c = &FunctionCall{CallID: id}
			byCall[id] = c
			r.Calls = append(r.Calls, c)
		}
		return c
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		r.Lines++
		var rec struct {
			Type    string          `json:"type"`
			Payload json.RawMessage `json:"payload"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, r.Lines, err)
		}
		var p struct {
			Type       string          `json:"type"`
			ID         string          `json:"id"`
			SessionID  string          `json:"session_id"`
			TurnID     string          `json:"turn_id"`
			Model      string          `json:"model"`
			CallID     string          `json:"call_id"`
			Name       string          `json:"name"`
			Arguments  string          `json:"arguments"`
			Output     json.RawMessage `json:"output"`
			Item       json.RawMessage `json:"item"`
			ResponseID string          `json:"response_id"`
			Usage      TokenUsage      `json:"usage"`
			Passthru   struct {
				TurnID string `json:"turn_id"`
			} `json:"internal_chat_message_metadata_passthrough"`
		}
		_ = json.Unmarshal(rec.Payload, &p)
		key := rec.Type
		if rec.Type == "event_msg" || rec.Type == "response_item" {
			key += "/" + p.Type
		}
		r.Types[key]++
		switch key {
		case "session_meta":
			r.SessionID = p.ID
		case "turn_context":
			r.Models[p.TurnID] = p.Model
		case "event_msg/task_started":
			r.Turns = append(r.Turns, p.TurnID)
		case "event_msg/task_complete":
			r.Complete = append(r.Complete, p.TurnID)
		case "token_usage_record":
			r.Usage = append(r.Usage, UsageRecord{TurnID: p.TurnID, ResponseID: p.ResponseID, Usage: p.Usage})
		case "response_item/function_call":
			c := call(p.CallID)
			c.TurnID, c.Name, c.Arguments = p.Passthru.TurnID, p.Name, p.Arguments
		case "response_item/function_call_output":
			c := call(p.CallID)
			c.HasOutput = true
			if json.Unmarshal(p.Output, &c.Output) != nil {
				c.Output = string(p.Output)
			}
		case "event_msg/item_completed":
			var it struct {
				Type     string `json:"type"`
				ID       string `json:"id"`
				Status   string `json:"status"`
				ExitCode *int   `json:"exit_code"`
				Content  []struct {
					Text string `json:"text"`
				} `json:"content"`
			}
			_ = json.Unmarshal(p.Item, &it)
			text := ""
			for _, c := range it.Content {
				text += c.Text
			}
			switch it.Type {
			case "UserMessage":
				r.Prompts = append(r.Prompts, text)
			case "AgentMessage":
				r.Answers = append(r.Answers, text)
			case "CommandExecution":
				c := call(it.ID)
				c.ExitCode, c.Status = it.ExitCode, it.Status
			}
		}
	}
	return r, sc.Err()
}

// UsageOf returns the records of one turn.
func (r *Rollout) UsageOf(turn string) []UsageRecord {
	var out []UsageRecord
	for _, u := range r.Usage {
		if u.TurnID == turn {
			out = append(out, u)
		}
	}
	return out
}
