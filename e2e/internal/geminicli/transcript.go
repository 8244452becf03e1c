package geminicli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// Tokens is a gemini message's token record (one model call).
type Tokens struct {
	Input    int `json:"input"`
	Output   int `json:"output"`
	Cached   int `json:"cached"`
	Thoughts int `json:"thoughts"`
	Tool     int `json:"tool"`
	Total    int `json:"total"`
}

// ToolCall is one entry of a gemini message's toolCalls.
type ToolCall struct {
	ID     string          `json:"id"`
	Name   string          `json:"name"`
	Args   map[string]any  `json:"args"`
	Result json.RawMessage `json:"result"`
	Status string          `json:"status"`
}

// Message is a user or gemini record of a session file.
type Message struct {
	ID        string          `json:"id"`
	Timestamp string          `json:"timestamp"`
	Type      string          `json:"type"`
	Content   json.RawMessage `json:"content"`
	Thoughts  []struct {
		Subject     string `json:"subject"`
		Description string `json:"description"`
	} `json:"thoughts"`
	Tokens    *Tokens    `json:"tokens"`
	Model     string     `json:"model"`
	ToolCalls []ToolCall `json:"toolCalls"`
}

// Text is the message's content as text (a string, or the text parts).
func (m Message) Text() string {
	var s string
	if json.Unmarshal(m.Content, &s) == nil {
		return s
	}
	var parts []struct {
		Text string `json:"text"`
	}
	_ = json.Unmarshal(m.Content, &parts)
	var out []string
	for _, p := range parts {
		out = append(out, p.Text)
	}
	return strings.Join(out, "")
}

// Transcript is a session file read the way a consumer must read it: a
// record line whose id was seen before replaces that message (a model
// message is written again with its toolCalls), keeping the earlier tokens
// and model when the new copy has none. A {"$set":{"messages":[…]}} patch
// only adds messages not seen before: the copies in it can be stripped of
// tokens, model, thoughts and toolCalls (see README: a resume in the same
// minute as the session's start rewrites the list from the history).
type Transcript struct {
	Headers  []map[string]any // {"sessionId","projectHash","startTime","lastUpdated","kind"} lines
	Messages []Message        // user and gemini records, in first-seen order
	SetLines int              // {"$set":{…}} lines
	// MessageSets are the $set patches that rewrite the whole message list.
	MessageSets [][]Message
	Lines       int
}

// Gemini returns the gemini (model) messages.
func (t *Transcript) Gemini() []Message {
	var out []Message
	for _, m := range t.Messages {
		if m.Type == "gemini" {
			out = append(out, m)
		}
	}
	return out
}

// ToolCalls returns every tool call, in order.
func (t *Transcript) ToolCalls() []ToolCall {
	var out []ToolCall
	for _, m := range t.Gemini() {
		out = append(out, m.ToolCalls...)
	}
	return out
}

// ReadTranscript parses a session-*.jsonl file.
func ReadTranscript(path string) (*Transcript, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t := &Transcript{}
	idx := map[string]int{}
	add := func(m Message, replace bool) {
		if i, ok := idx[m.ID]; ok {
			if !replace {
				return
			}
			if m.Tokens == nil {
				m.Tokens = t.Messages[i].Tokens
			}
			if m.Model == "" {
				m.Model = t.Messages[i].Model
			}
			t.Messages[i] = m
			return
		}
		idx[m.ID] = len(t.Messages)
		t.Messages = append(t.Messages, m)
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(strings.TrimSpace(string(line))) == 0 {
			continue
		}
		t.Lines++
		var probe struct {
			Set       map[string]json.RawMessage `json:"$set"`
			SessionID string                     `json:"sessionId"`
			ID        string                     `json:"id"`
		}
		if err := json.Unmarshal(line, &probe); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, t.Lines, err)
		}
		switch {
		case probe.Set != nil:
			t.SetLines++
			if raw, ok := probe.Set["messages"]; ok {
				var ms []Message
				if err := json.Unmarshal(raw, &ms); err != nil {
					return nil, fmt.Errorf("%s line %d: $set messages: %w", path, t.Lines, err)
				}
				t.MessageSets = append(t.MessageSets, ms)
				for _, m := range ms {
					add(m, false)
				}
			}
		case probe.SessionID != "":
			var h map[string]any
			_ = json.Unmarshal(line, &h)
			t.Headers = append(t.Headers, h)
		case probe.ID != "":
			var m Message
			if err := json.Unmarshal(line, &m); err != nil {
				return nil, fmt.Errorf("%s line %d: %w", path, t.Lines, err)
			}
			add(m, true)
		}
	}
	return t, sc.Err()
}
