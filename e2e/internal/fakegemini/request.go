package fakegemini

import (
	"encoding/json"
	"strings"
)

// Request is the decoded body of a generateContent / streamGenerateContent
// call (the fields tests look at; Raw keeps everything).
type Request struct {
	Contents          []Content       `json:"contents"`
	SystemInstruction *Content        `json:"systemInstruction,omitempty"`
	Tools             []ToolSet       `json:"tools,omitempty"`
	GenerationConfig  json.RawMessage `json:"generationConfig,omitempty"`
	Raw               json.RawMessage `json:"-"`
}

// Content is one turn of the conversation ("user" or "model").
type Content struct {
	Role  string        `json:"role"`
	Parts []RequestPart `json:"parts"`
}

// RequestPart is one part of a content as the CLI sends it.
type RequestPart struct {
	Text             string            `json:"text,omitempty"`
	Thought          bool              `json:"thought,omitempty"`
	ThoughtSignature string            `json:"thoughtSignature,omitempty"`
	FunctionCall     *FunctionCall     `json:"functionCall,omitempty"`
	FunctionResponse *FunctionResponse `json:"functionResponse,omitempty"`
}

// FunctionCall is a tool call (sent by the model, echoed back in the history).
type FunctionCall struct {
	ID   string         `json:"id,omitempty"`
	Name string         `json:"name"`
	Args map[string]any `json:"args"`
}

// FunctionResponse is a tool result the CLI sends back.
type FunctionResponse struct {
	ID       string         `json:"id,omitempty"`
	Name     string         `json:"name"`
	Response map[string]any `json:"response"`
}

// Output is the tool's output as the CLI reports it (response.output or
// response.error), "" when absent.
func (f FunctionResponse) Output() string {
	for _, k := range []string{"output", "error"} {
		if s, ok := f.Response[k].(string); ok {
			return s
		}
	}
	return ""
}

// ToolSet is one entry of "tools".
type ToolSet struct {
	FunctionDeclarations []struct {
		Name string `json:"name"`
	} `json:"functionDeclarations,omitempty"`
}

// ToolNames lists the declared functions.
func (r *Request) ToolNames() []string {
	var out []string
	for _, t := range r.Tools {
		for _, d := range t.FunctionDeclarations {
			out = append(out, d.Name)
		}
	}
	return out
}

// HasTool reports whether a function of that name is declared.
func (r *Request) HasTool(name string) bool {
	for _, n := range r.ToolNames() {
		if n == name {
			return true
		}
	}
	return false
}

// opensTurn reports whether a content is a user prompt (text, no function response).
func opensTurn(c Content) bool {
	if c.Role != "user" {
		return false
	}
	text := false
	for _, p := range c.Parts {
		if p.FunctionResponse != nil {
			return false
		}
		if p.Text != "" {
			text = true
		}
	}
	return text
}

// turnStart is the index of the content that opened the current turn (-1 if none).
func (r *Request) turnStart() int {
	for i := len(r.Contents) - 1; i >= 0; i-- {
		if opensTurn(r.Contents[i]) {
			return i
		}
	}
	return -1
}

// TurnPrompt is the last text part of the user content that opened the
// current turn: what the user typed (the CLI puts its <session_context>
// block in an earlier part of the first one).
func (r *Request) TurnPrompt() string {
	i := r.turnStart()
	if i < 0 {
		return ""
	}
	parts := r.Contents[i].Parts
	for j := len(parts) - 1; j >= 0; j-- {
		if parts[j].Text != "" {
			return parts[j].Text
		}
	}
	return ""
}

// Step is the number of model answers already given in the current turn:
// 0 on a fresh prompt, 1 after the first tool round, ...
func (r *Request) Step() int {
	n := 0
	for _, c := range r.Contents[r.turnStart()+1:] {
		if c.Role == "model" {
			n++
		}
	}
	return n
}

// FunctionResponses are the tool results in the last content (nil when the
// request does not answer a tool call).
func (r *Request) FunctionResponses() []FunctionResponse {
	if len(r.Contents) == 0 {
		return nil
	}
	var out []FunctionResponse
	for _, p := range r.Contents[len(r.Contents)-1].Parts {
		if p.FunctionResponse != nil {
			out = append(out, *p.FunctionResponse)
		}
	}
	return out
}

// AllText is every text and tool output in the request, for loose checks.
func (r *Request) AllText() string {
	var sb strings.Builder
	for _, c := range r.Contents {
		for _, p := range c.Parts {
			sb.WriteString(p.Text)
			if p.FunctionResponse != nil {
				sb.WriteString(p.FunctionResponse.Output())
			}
			sb.WriteString("\n")
		}
	}
	return sb.String()
}
