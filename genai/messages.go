package genai

import (
	"encoding/json"

	"go.opentelemetry.io/otel/attribute"
)

// Attribute keys beyond the semconv v1.41.0 GenAI set. Agent-specific extras
// live under claude_code.* and cursor.* as DESIGN.md asks.
const (
	AgentClaudeCode = "claude-code"
	AgentCursor     = "cursor"
	AgentCodex      = "codex"
	AgentGeminiCLI  = "gemini-cli"
)

// Part is one part of a GenAI message in the semconv shape:
// {type, content} for text and reasoning, {type, id, name, arguments} for a
// tool call, {type, id, response} for a tool call response, {type,
// mime_type, modality, content} for inline data (a blob).
type Part struct {
	Type      string          `json:"type"`
	Content   string          `json:"content,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Arguments json.RawMessage `json:"arguments,omitempty"`
	Response  json.RawMessage `json:"response,omitempty"`
	MimeType  string          `json:"mime_type,omitempty"`
	Modality  string          `json:"modality,omitempty"` // of a blob: image, …
}

// Message is a GenAI message: [{role, parts:[...]}].
type Message struct {
	Role         string `json:"role"`
	Parts        []Part `json:"parts"`
	FinishReason string `json:"finish_reason,omitempty"`
}

// MessagesAttr encodes messages as the JSON string value of key (for example
// gen_ai.input.messages).
func MessagesAttr(key attribute.Key, msgs []Message) attribute.KeyValue {
	b, err := json.Marshal(msgs)
	if err != nil { // cannot happen: the types above always marshal
		b = []byte("[]")
	}
	return key.String(string(b))
}
