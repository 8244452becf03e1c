package gemini

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/weave-agentd/weave-agentd/transcript"
)

// The chat file (FORMATS: ../shared/AGENTS.md, Gemini CLI) is append-only
// JSONL with three kinds of line:
//
//	{"sessionId","projectHash","startTime","lastUpdated","kind"}   header (again on every resume)
//	{"$set":{"lastUpdated":…}} or {"$set":{"messages":[…]}}          patch
//	{"id","timestamp","type":"user"|"gemini"|…, …}                   message record
//	{"$rewindTo":"<message id>"}                                      the user rewound the history
//
// A message record whose id was written before replaces that message (a
// model message is written, then again with its toolCalls). A $set of
// messages rewrites the whole history (the start of a session, a resume),
// without the tokens of earlier model messages: its messages were (or will
// never be) written as records of their own, so it makes no span. Nor does
// a rewind: what was sent before it happened.

// record is one line, decoded as far as the builder needs: a message
// record's fields (a header or a patch decodes to none of them).
type record struct {
	ID        string            `json:"id"`
	Timestamp string            `json:"timestamp"`
	Type      string            `json:"type"` // user | gemini | error | info | warning
	Content   json.RawMessage   `json:"content"`
	Display   json.RawMessage   `json:"displayContent"` // the prompt as shown, when it differs from what was sent
	Thoughts  list[thought]     `json:"thoughts"`
	Tokens    *recTokens        `json:"tokens"`
	Model     string            `json:"model"`
	ToolCalls list[recToolCall] `json:"toolCalls"`

	Set json.RawMessage `json:"$set"`
}

// isMessage reports whether the line is a message record.
func (r *record) isMessage() bool { return r.ID != "" && r.Type != "" && r.Set == nil }

type thought struct {
	Subject     string `json:"subject"`
	Description string `json:"description"`
}

// recTokens are one model call's counts as Gemini CLI records them (from
// the API's usageMetadata): Input = promptTokenCount (cached included),
// Output = candidatesTokenCount (thoughts excluded), Cached =
// cachedContentTokenCount, Thoughts = thoughtsTokenCount, Tool =
// toolUsePromptTokenCount, Total = totalTokenCount = Input + Output +
// Thoughts + Tool.
type recTokens struct {
	Input    int64 `json:"input"`
	Output   int64 `json:"output"`
	Cached   int64 `json:"cached"`
	Thoughts int64 `json:"thoughts"`
	Tool     int64 `json:"tool"`
	Total    int64 `json:"total"`
}

type recToolCall struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Args      json.RawMessage `json:"args"`
	Result    json.RawMessage `json:"result"`
	Status    string          `json:"status"`
	Timestamp string          `json:"timestamp"`
	AgentID   string          `json:"agentId"` // the subagent an invoke_agent call ran
}

// list is a JSON array decoded one element at a time, of which the first
// maxParts are kept: one line can list a million parts, thoughts or tool
// calls, and decoding them all at once would hold them all.
type list[T any] struct {
	Items []T
	Cut   bool // elements after the first maxParts were not kept
}

func (l *list[T]) UnmarshalJSON(data []byte) error {
	items, cut, err := transcript.DecodeFirst[T](data, maxParts)
	if errors.Is(err, transcript.ErrNotAList) {
		err = fmt.Errorf("gemini: %s where a list was expected", data[:min(len(data), 16)])
	}
	*l = list[T]{Items: items, Cut: cut}
	return err
}

var setPrefix = []byte(`{"$set"`)

// parseLine decodes one line. A patch is recognised by its first key
// without decoding it: a $set of the whole history can be megabytes that
// the builder never uses.
func parseLine(line []byte) (*record, error) {
	line = bytes.TrimSpace(line)
	if bytes.HasPrefix(line, setPrefix) {
		if !json.Valid(line) {
			return nil, errors.New("malformed patch")
		}
		return &record{}, nil
	}
	var r record
	if err := json.Unmarshal(line, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// contentPart is a part of a message's content (the API's Part): text, a
// thought, a function call or response, inline data.
type contentPart struct {
	Text             *string       `json:"text"`
	Thought          bool          `json:"thought"`
	FunctionResponse *struct{}     `json:"functionResponse"`
	FunctionCall     *struct{}     `json:"functionCall"`
	InlineData       *inlineData   `json:"inlineData"`
	FileData         *fileDataPart `json:"fileData"`
}

type inlineData struct {
	MimeType string `json:"mimeType"`
	Data     string `json:"data"`
}

type fileDataPart struct {
	MimeType string `json:"mimeType"`
	FileURI  string `json:"fileUri"`
}

// content is a message's content decoded: its text parts in order (a
// string content is one text), whether it holds only function responses
// (a tool result sent back to the model, not a prompt), and its media.
type content struct {
	Texts     []string
	Responses int
	Media     []inlineData
	Files     []fileDataPart
}

// parseContent decodes a content value: a string, a part, or a list of
// parts (the API's PartListUnion). Text is cut at maxText bytes each.
func parseContent(raw json.RawMessage) (content, bool) {
	var c content
	var cut bool
	addText := func(s string) {
		if len(s) > maxText {
			s, cut = cutText(s, maxText), true
		}
		c.Texts = append(c.Texts, s)
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return c, false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s != "" {
			addText(s)
		}
		return c, cut
	}
	var parts list[contentPart]
	if raw[0] == '{' {
		var p contentPart
		if json.Unmarshal(raw, &p) != nil {
			return c, false
		}
		parts.Items = []contentPart{p}
	} else if json.Unmarshal(raw, &parts) != nil {
		return c, false
	}
	cut = parts.Cut
	for _, p := range parts.Items {
		switch {
		case p.FunctionResponse != nil:
			c.Responses++
		case p.Text != nil && !p.Thought && *p.Text != "":
			addText(*p.Text)
		case p.InlineData != nil:
			d := *p.InlineData
			if len(d.Data) > maxText {
				d.Data, cut = "", true // a placeholder names type and size
			}
			c.Media = append(c.Media, d)
		case p.FileData != nil:
			c.Files = append(c.Files, *p.FileData)
		}
	}
	return c, cut
}

// isContext reports whether a user message is the context Gemini CLI sends
// before the first prompt (workspace, date, folder listing), not a prompt.
func (c *content) isContext() bool {
	for _, t := range c.Texts {
		if !strings.HasPrefix(strings.TrimSpace(t), "<session_context>") {
			return false
		}
	}
	return len(c.Texts) > 0
}

// isPrompt reports whether a user message is a prompt: it has text or
// media, and is not only function responses (a tool result) or context.
func (c *content) isPrompt() bool {
	if c.isContext() {
		return false
	}
	return len(c.Texts) > 0 || len(c.Media) > 0 || len(c.Files) > 0
}

// toolResult renders a tool call's result (a list of parts holding a
// functionResponse) as text: the response's output or error when it has
// one, else the response as JSON; other text parts follow.
func toolResult(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return capText(s)
	}
	var parts list[struct {
		Text             *string `json:"text"`
		FunctionResponse *struct {
			Response json.RawMessage `json:"response"`
		} `json:"functionResponse"`
	}]
	if raw[0] == '{' {
		raw = append(append([]byte{'['}, raw...), ']')
	}
	if json.Unmarshal(raw, &parts) != nil {
		return capText(string(raw))
	}
	var out []string
	for _, p := range parts.Items {
		switch {
		case p.FunctionResponse != nil:
			out = append(out, responseText(p.FunctionResponse.Response))
		case p.Text != nil && *p.Text != "":
			out = append(out, *p.Text)
		}
	}
	s, cut := capText(strings.Join(out, "\n"))
	return s, cut || parts.Cut
}

// responseText is a functionResponse.response as text: its "output" or
// "error" string when it has one, else its JSON.
func responseText(raw json.RawMessage) string {
	var r struct {
		Output *string `json:"output"`
		Error  *string `json:"error"`
	}
	if json.Unmarshal(raw, &r) == nil {
		switch {
		case r.Output != nil && r.Error != nil:
			return *r.Output + "\n" + *r.Error
		case r.Output != nil:
			return *r.Output
		case r.Error != nil:
			return *r.Error
		}
	}
	return string(raw)
}

func capText(s string) (string, bool) {
	if len(s) > maxText {
		return cutText(s, maxText), true
	}
	return s, false
}

// cutText shortens s to about n bytes at a rune boundary, with a marker.
func cutText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	c := n
	for c > 0 && s[c]&0xC0 == 0x80 {
		c--
	}
	return s[:c] + fmt.Sprintf("…[truncated %d bytes]", len(s)-c)
}

// capArgs keeps a tool call's arguments as JSON; arguments over maxText
// bytes become a JSON string of their start, with a marker.
func capArgs(raw json.RawMessage) (json.RawMessage, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, false
	}
	if len(raw) <= maxText {
		var buf bytes.Buffer
		if json.Compact(&buf, raw) == nil {
			return buf.Bytes(), false
		}
		return nil, false
	}
	b, err := json.Marshal(cutText(string(raw), maxText))
	if err != nil {
		return nil, true
	}
	return b, true
}
