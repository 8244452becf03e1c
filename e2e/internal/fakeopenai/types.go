package fakeopenai

import (
	"encoding/json"
	"strings"
)

// Request is a decoded POST /v1/responses body (the fields Codex sends that
// the scripts and tests look at; Raw keeps everything).
type Request struct {
	Model             string            `json:"model"`
	Stream            bool              `json:"stream"`
	Instructions      string            `json:"instructions"`
	Input             []InputItem       `json:"input"`
	Tools             []json.RawMessage `json:"tools"`
	ToolChoice        any               `json:"tool_choice"`
	ParallelToolCalls bool              `json:"parallel_tool_calls"`
	PromptCacheKey    string            `json:"prompt_cache_key"`
	Store             bool              `json:"store"`
	Raw               json.RawMessage   `json:"-"`
}

// InputItem is one element of the request's input: a message (developer,
// user or assistant), a reasoning item, a function_call the model made
// earlier, or a function_call_output carrying a tool's result.
type InputItem struct {
	Type      string          `json:"type"`
	ID        string          `json:"id,omitempty"`
	Role      string          `json:"role,omitempty"`
	Content   []ContentPart   `json:"content,omitempty"`
	Summary   []ContentPart   `json:"summary,omitempty"`
	CallID    string          `json:"call_id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Arguments string          `json:"arguments,omitempty"`
	Output    json.RawMessage `json:"output,omitempty"`
}

// ContentPart is a part of a message (input_text, output_text, …) or of a
// reasoning summary (summary_text).
type ContentPart struct {
	Type string `json:"type"`
	Text string `json:"text,omitempty"`
}

// Text joins the item's text parts.
func (it InputItem) Text() string {
	var b strings.Builder
	for _, p := range it.Content {
		b.WriteString(p.Text)
	}
	return b.String()
}

// OutputText is a function_call_output's output as text: a JSON string, or
// the text parts of a content array.
func (it InputItem) OutputText() string {
	var s string
	if json.Unmarshal(it.Output, &s) == nil {
		return s
	}
	var parts []ContentPart
	if json.Unmarshal(it.Output, &parts) == nil {
		var b strings.Builder
		for _, p := range parts {
			b.WriteString(p.Text)
		}
		return b.String()
	}
	return string(it.Output)
}

// isModelOutput reports whether the item is something a model response
// produced (as opposed to user input or a tool result).
func (it InputItem) isModelOutput() bool {
	switch it.Type {
	case "reasoning", "function_call", "custom_tool_call", "local_shell_call", "web_search_call":
		return true
	case "message":
		return it.Role == "assistant"
	}
	return false
}

// Markers of Codex 0.171.0's (auto-)compaction, which goes through the same
// endpoint: the summarising request ends with a user message starting with
// CompactionPrompt; afterwards the history is replaced by the earlier
// prompts plus a user message starting with SummaryBridge and the summary.
const (
	CompactionPrompt = "You are performing a CONTEXT CHECKPOINT COMPACTION."
	SummaryBridge    = "Another language model started to solve this problem"
)

// isPrompt reports whether the item is a user message that a person typed:
// Codex also sends user-role messages with injected context
// (<environment_context>, <user_instructions>, …), which start with '<', and
// the compaction prompt and summary.
func (it InputItem) isPrompt() bool {
	if it.Type != "message" || it.Role != "user" {
		return false
	}
	t := strings.TrimSpace(it.Text())
	return !strings.HasPrefix(t, "<") && !strings.HasPrefix(t, CompactionPrompt) && !strings.HasPrefix(t, SummaryBridge)
}

// IsCompaction reports whether the request asks for a compaction summary.
func (r *Request) IsCompaction() bool {
	n := len(r.Input)
	return n > 0 && r.Input[n-1].Type == "message" && r.Input[n-1].Role == "user" &&
		strings.HasPrefix(strings.TrimSpace(r.Input[n-1].Text()), CompactionPrompt)
}

// Compacted reports whether the request's history was compacted: it
// carries a summary.
func (r *Request) Compacted() bool {
	for _, it := range r.Input {
		if it.Type == "message" && it.Role == "user" && strings.HasPrefix(strings.TrimSpace(it.Text()), SummaryBridge) {
			return true
		}
	}
	return false
}

// turnStart is the index of the prompt that opened the current turn (-1 if none).
func (r *Request) turnStart() int {
	for i := len(r.Input) - 1; i >= 0; i-- {
		if r.Input[i].isPrompt() {
			return i
		}
	}
	return -1
}

// TurnPrompt is the text of the prompt that opened the current turn (also
// in a compaction request, and after one).
func (r *Request) TurnPrompt() string {
	if i := r.turnStart(); i >= 0 {
		return r.Input[i].Text()
	}
	return ""
}

// Prompts lists every prompt in the input, oldest first (a resumed session
// sends the earlier turns' prompts too).
func (r *Request) Prompts() []string {
	var out []string
	for _, it := range r.Input {
		if it.isPrompt() {
			out = append(out, it.Text())
		}
	}
	return out
}

// Step is the number of model responses already in the current turn: the
// runs of model output items after the turn's prompt. 0 on a fresh prompt,
// 1 after the first round of tool calls, …
func (r *Request) Step() int {
	n, inRun := 0, false
	for _, it := range r.Input[r.turnStart()+1:] {
		out := it.isModelOutput()
		if out && !inRun {
			n++
		}
		inRun = out
	}
	return n
}

// ToolOutputs are the function_call_output items of the current turn.
func (r *Request) ToolOutputs() []InputItem {
	var out []InputItem
	for _, it := range r.Input[r.turnStart()+1:] {
		if it.Type == "function_call_output" || it.Type == "custom_tool_call_output" {
			out = append(out, it)
		}
	}
	return out
}

// LastToolOutput is the newest function_call_output of the current turn
// (ok false when the turn has none yet).
func (r *Request) LastToolOutput() (InputItem, bool) {
	outs := r.ToolOutputs()
	if len(outs) == 0 {
		return InputItem{}, false
	}
	return outs[len(outs)-1], true
}

// ToolNames lists the names of the tools the request offers.
func (r *Request) ToolNames() []string {
	var out []string
	for _, raw := range r.Tools {
		var t struct {
			Type string `json:"type"`
			Name string `json:"name"`
		}
		if json.Unmarshal(raw, &t) == nil {
			if t.Name == "" {
				t.Name = t.Type
			}
			out = append(out, t.Name)
		}
	}
	return out
}
