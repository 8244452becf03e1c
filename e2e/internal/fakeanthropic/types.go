package fakeanthropic

import (
	"encoding/json"
	"strings"
)

// MessagesRequest is the decoded body of POST /v1/messages (the fields tests
// look at; Raw keeps everything).
type MessagesRequest struct {
	Model     string          `json:"model"`
	MaxTokens int             `json:"max_tokens"`
	Stream    bool            `json:"stream"`
	System    Blocks          `json:"system"`
	Messages  []Message       `json:"messages"`
	Tools     []Tool          `json:"tools"`
	Thinking  json.RawMessage `json:"thinking,omitempty"`
	Metadata  json.RawMessage `json:"metadata,omitempty"`
	Raw       json.RawMessage `json:"-"`
}

// Message is one conversation message; string content is normalised to one text block.
type Message struct {
	Role    string `json:"role"`
	Content Blocks `json:"content"`
}

// Tool is a tool definition offered to the model.
type Tool struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"input_schema,omitempty"`
	Type        string          `json:"type,omitempty"`
}

// Block is a content block of any type (text, thinking, tool_use, tool_result, image, ...).
type Block struct {
	Type      string          `json:"type"`
	Text      string          `json:"text,omitempty"`
	Thinking  string          `json:"thinking,omitempty"`
	Signature string          `json:"signature,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Input     json.RawMessage `json:"input,omitempty"`
	ToolUseID string          `json:"tool_use_id,omitempty"`
	Content   json.RawMessage `json:"content,omitempty"`
	IsError   bool            `json:"is_error,omitempty"`
}

// ResultText is the text of a tool_result block (string content or text blocks).
func (b Block) ResultText() string {
	if len(b.Content) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(b.Content, &s) == nil {
		return s
	}
	var bs []Block
	if json.Unmarshal(b.Content, &bs) == nil {
		var parts []string
		for _, x := range bs {
			if x.Type == "text" {
				parts = append(parts, x.Text)
			}
		}
		return strings.Join(parts, "\n")
	}
	return string(b.Content)
}

// Blocks accepts either a JSON string or an array of blocks.
type Blocks []Block

// UnmarshalJSON implements json.Unmarshaler.
func (bs *Blocks) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*bs = Blocks{{Type: "text", Text: s}}
		return nil
	}
	var arr []Block
	if err := json.Unmarshal(b, &arr); err != nil {
		return err
	}
	*bs = arr
	return nil
}

// Text joins the text blocks.
func (bs Blocks) Text() string {
	var parts []string
	for _, b := range bs {
		if b.Type == "text" {
			parts = append(parts, b.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// SystemText is the system prompt as one string.
func (r *MessagesRequest) SystemText() string { return r.System.Text() }

// HasTool reports whether a tool of that name is offered.
func (r *MessagesRequest) HasTool(name string) bool {
	for _, t := range r.Tools {
		if t.Name == name {
			return true
		}
	}
	return false
}

// ToolNames lists the offered tools.
func (r *MessagesRequest) ToolNames() []string {
	out := make([]string, 0, len(r.Tools))
	for _, t := range r.Tools {
		out = append(out, t.Name)
	}
	return out
}

// Last returns the last message (zero Message when there is none).
func (r *MessagesRequest) Last() Message {
	if len(r.Messages) == 0 {
		return Message{}
	}
	return r.Messages[len(r.Messages)-1]
}

// LastUser returns the last message whose role is "user" (Claude Code 2.1.328
// also puts role "system" messages into the list, for example the environment
// block after the first prompt).
func (r *MessagesRequest) LastUser() Message {
	for i := len(r.Messages) - 1; i >= 0; i-- {
		if r.Messages[i].Role == "user" {
			return r.Messages[i]
		}
	}
	return Message{}
}

// ToolResults returns the tool_result blocks of the last user message (the
// results of the previous response's tool calls), or nil when it is a plain prompt.
func (r *MessagesRequest) ToolResults() []Block {
	var out []Block
	for _, b := range r.LastUser().Content {
		if b.Type == "tool_result" {
			out = append(out, b)
		}
	}
	return out
}

// LastUserText is the text of the last user message (system reminders and
// other injected blocks included; see Prompt for the typed prompt).
func (r *MessagesRequest) LastUserText() string { return r.LastUser().Content.Text() }

// Prompt is the last user text block of the last user message that does not
// look like an injected reminder (<system-reminder>, <command-...>, ...): for a
// fresh turn, what the user typed.
func (r *MessagesRequest) Prompt() string {
	for i := len(r.Messages) - 1; i >= 0; i-- {
		m := r.Messages[i]
		if m.Role != "user" {
			continue
		}
		for j := len(m.Content) - 1; j >= 0; j-- {
			b := m.Content[j]
			if b.Type != "text" {
				continue
			}
			t := strings.TrimSpace(b.Text)
			if strings.HasPrefix(t, "<system-reminder>") || strings.HasPrefix(t, "<local-command") || strings.HasPrefix(t, "<command-") {
				continue
			}
			return t
		}
	}
	return ""
}

// AllText is every text in the request (system, messages, tool results), for
// loose "contains" checks.
func (r *MessagesRequest) AllText() string {
	var sb strings.Builder
	sb.WriteString(r.SystemText())
	for _, m := range r.Messages {
		for _, b := range m.Content {
			sb.WriteString("\n")
			sb.WriteString(b.Text)
			if b.Type == "tool_result" {
				sb.WriteString(b.ResultText())
			}
		}
	}
	return sb.String()
}

// CountToolRounds counts assistant messages that contain tool_use blocks.
func (r *MessagesRequest) CountToolRounds() int {
	n := 0
	for _, m := range r.Messages {
		if m.Role != "assistant" {
			continue
		}
		for _, b := range m.Content {
			if b.Type == "tool_use" {
				n++
				break
			}
		}
	}
	return n
}
