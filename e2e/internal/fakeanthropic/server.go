// Package fakeanthropic is a scripted stand-in for the Anthropic Messages API
// that Claude Code talks to when ANTHROPIC_BASE_URL points at it.
//
// It answers POST /v1/messages exactly like the real API (streaming SSE:
// message_start, content_block_start/delta/stop for text, thinking and
// tool_use blocks, message_delta with stop_reason and usage, message_stop; or
// one JSON message when stream is false), plus the side endpoints Claude Code
// calls (count_tokens, models, ...). Each request is classified (main agent,
// subagent, compaction, side request such as title generation) and routed to
// the matching Responder of the Script, so side traffic never consumes the
// scripted turns. Everything received is recorded for assertions.
package fakeanthropic

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/e2e/internal/localhttp"
)

// Kind says who sent a /v1/messages request.
type Kind string

// Request kinds.
const (
	KindMain     Kind = "main"     // the main agent's conversation
	KindSubagent Kind = "subagent" // a subagent started by the Agent (Task) tool
	KindCompact  Kind = "compact"  // the /compact (or auto-compact) summarisation call
	KindSide     Kind = "side"     // title generation, classifiers, quota checks, ...
	KindCount    Kind = "count_tokens"
	KindOther    Kind = "other" // any other path
)

// Part is one content block of a scripted reply.
type Part struct {
	Type      string // "text", "thinking", "tool_use"
	Text      string
	Thinking  string
	Signature string
	ID        string // tool_use id; generated ("toolu_...") when empty
	Name      string // tool name
	Input     any    // tool input; marshalled to JSON
}

// Text is a text block.
func Text(s string) Part { return Part{Type: "text", Text: s} }

// Thinking is a thinking block (with a generated signature).
func Thinking(s string) Part { return Part{Type: "thinking", Thinking: s} }

// ToolUse is a tool_use block with a generated id.
func ToolUse(name string, input any) Part { return Part{Type: "tool_use", Name: name, Input: input} }

// Bash is a Bash tool_use running command.
func Bash(command, description string) Part {
	return ToolUse("Bash", map[string]any{"command": command, "description": description})
}

// Usage is the token usage reported for one response.
type Usage struct {
	InputTokens              int `json:"input_tokens"`
	OutputTokens             int `json:"output_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
}

// Add returns u+v.
func (u Usage) Add(v Usage) Usage {
	return Usage{u.InputTokens + v.InputTokens, u.OutputTokens + v.OutputTokens,
		u.CacheReadInputTokens + v.CacheReadInputTokens, u.CacheCreationInputTokens + v.CacheCreationInputTokens}
}

// Reply is one scripted response.
type Reply struct {
	ID         string // message id; generated ("msg_...", unique) when empty
	Model      string // defaults to the request's model
	Parts      []Part
	StopReason string // defaults to "tool_use" when a part is a tool_use, else "end_turn"
	Usage      Usage  // zero → a small deterministic default

	// Status, when >= 400, answers an API error instead of a message
	// (for example 529 overloaded_error, 500 api_error, 400 invalid_request_error).
	Status       int
	ErrorType    string
	ErrorMessage string

	Delay      time.Duration // wait before answering
	ChunkDelay time.Duration // wait between SSE events
}

// Say is a text-only reply.
func Say(text string, u Usage) Reply { return Reply{Parts: []Part{Text(text)}, Usage: u} }

// Call is what a Responder sees.
type Call struct {
	Kind   Kind
	N      int // 0-based ordinal of this call among calls of the same Kind
	Req    *MessagesRequest
	Header http.Header
}

// Responder decides the reply to a call. It may be called concurrently.
type Responder func(*Call) Reply

// Script routes each kind of call.
type Script struct {
	Main     Responder // the main agent; nil → Say("OK")
	Subagent Responder // subagents; nil → Main
	Compact  Responder // compaction summaries; nil → a canned summary
	Side     Responder // side requests; nil → a short generic text
	// Classify overrides the built-in classification when it returns non-empty.
	Classify func(*Call) Kind
}

// Exchange is one request the server received and what it answered.
type Exchange struct {
	Time     time.Time
	Method   string
	Path     string
	Query    string
	Header   http.Header
	Body     []byte
	Kind     Kind
	Req      *MessagesRequest // nil unless a messages request decoded
	Reply    *Reply           // the reply sent (ID and Usage filled in), nil for non-message paths
	Status   int
	Duration time.Duration
}

// Server is a running fake Anthropic API.
type Server struct {
	t      testing.TB
	script Script
	http   *localhttp.Server

	log localhttp.Log[Exchange]

	mu     sync.Mutex
	counts map[Kind]int
	ids    map[string]bool
}

// Start starts the fake API on 127.0.0.1:<free port> and stops it when the test ends.
func Start(t testing.TB, script Script) *Server {
	t.Helper()
	s := &Server{t: t, script: script, counts: map[Kind]int{}, ids: map[string]bool{}}
	s.http = localhttp.Start(t, "fakeanthropic", s)
	return s
}

// Close stops the server (also done by the test's cleanup).
func (s *Server) Close() { s.http.Close() }

// URL is the base URL for ANTHROPIC_BASE_URL (http://127.0.0.1:PORT).
func (s *Server) URL() string { return s.http.URL() }

// Exchanges returns every request received so far, in the order they were
// answered (waiting for answers still being written; localhttp.Log).
func (s *Server) Exchanges() []Exchange { return s.log.All() }

// Calls returns the exchanges of the given kinds (all messages calls when none given).
func (s *Server) Calls(kinds ...Kind) []Exchange {
	var out []Exchange
	for _, e := range s.Exchanges() {
		if e.Req == nil {
			continue
		}
		if len(kinds) == 0 {
			out = append(out, e)
			continue
		}
		for _, k := range kinds {
			if e.Kind == k {
				out = append(out, e)
				break
			}
		}
	}
	return out
}

// Usage sums the usage of the successful replies of the given kinds (all when none given).
func (s *Server) Usage(kinds ...Kind) Usage {
	var u Usage
	for _, e := range s.Calls(kinds...) {
		if e.Reply != nil && e.Reply.Status < 400 {
			u = u.Add(e.Reply.Usage)
		}
	}
	return u
}

// MessageIDs lists the ids of the messages answered to calls of the given kinds.
func (s *Server) MessageIDs(kinds ...Kind) []string {
	var out []string
	for _, e := range s.Calls(kinds...) {
		if e.Reply != nil && e.Reply.Status < 400 {
			out = append(out, e.Reply.ID)
		}
	}
	return out
}

// Unknown lists "METHOD /path" of requests to paths the fake does not know.
func (s *Server) Unknown() []string { return s.log.Unknown() }

func newID(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	record := s.log.Begin()
	start := time.Now()
	body, _ := io.ReadAll(r.Body)
	ex := Exchange{Time: start, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body}
	defer func() {
		ex.Duration = time.Since(start)
		record(ex)
	}()
	w.Header().Set("request-id", newID("req_"))
	path := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case r.Method == http.MethodPost && path == "/v1/messages":
		ex.Kind, ex.Req, ex.Reply, ex.Status = s.messages(w, r, body)
	case r.Method == http.MethodPost && path == "/v1/messages/count_tokens":
		ex.Kind = KindCount
		ex.Status = writeJSON(w, 200, map[string]any{"input_tokens": estimateTokens(body)})
	case r.Method == http.MethodGet && (path == "/v1/models" || strings.HasPrefix(path, "/v1/models/")):
		ex.Kind = KindOther
		ex.Status = s.models(w, path)
	case path == "" || path == "/api/hello":
		// Connectivity probe (HEAD /api/hello) sent at startup unless nonessential traffic is off.
		ex.Kind = KindOther
		ex.Status = writeJSON(w, 200, map[string]any{"message": "hello"})
	case strings.HasPrefix(path, "/api/"):
		// Claude.ai / console side endpoints (event logging, feature flags, quota):
		// answer an empty success so nothing retries, and note them.
		ex.Kind = KindOther
		s.noteUnknown(r, body)
		ex.Status = writeJSON(w, 200, map[string]any{})
	default:
		ex.Kind = KindOther
		s.noteUnknown(r, body)
		ex.Status = writeJSON(w, http.StatusNotFound, apiError("not_found_error", "fakeanthropic: no such endpoint "+r.URL.Path))
	}
}

func (s *Server) noteUnknown(r *http.Request, body []byte) {
	s.log.NoteUnknown(r.Method + " " + r.URL.Path)
	if s.t != nil {
		s.t.Logf("fakeanthropic: unknown request %s %s (%d bytes)", r.Method, r.URL.RequestURI(), len(body))
	}
}

func estimateTokens(body []byte) int { return len(body)/4 + 1 }

func writeJSON(w http.ResponseWriter, status int, v any) int {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
	return status
}

func apiError(typ, msg string) map[string]any {
	return map[string]any{"type": "error", "error": map[string]any{"type": typ, "message": msg}}
}

var knownModels = []string{"claude-opus-4-7", "claude-sonnet-4-6", "claude-haiku-4-5-20251001"}

func (s *Server) models(w http.ResponseWriter, path string) int {
	model := func(id string) map[string]any {
		return map[string]any{"type": "model", "id": id, "display_name": id, "created_at": "2026-01-01T00:00:00Z"}
	}
	if id, ok := strings.CutPrefix(path, "/v1/models/"); ok {
		return writeJSON(w, 200, model(id))
	}
	var data []map[string]any
	for _, id := range knownModels {
		data = append(data, model(id))
	}
	return writeJSON(w, 200, map[string]any{"data": data, "has_more": false, "first_id": knownModels[0], "last_id": knownModels[len(knownModels)-1]})
}

func (s *Server) messages(w http.ResponseWriter, r *http.Request, body []byte) (Kind, *MessagesRequest, *Reply, int) {
	var req MessagesRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return KindOther, nil, nil, writeJSON(w, 400, apiError("invalid_request_error", "fakeanthropic: "+err.Error()))
	}
	req.Raw = append(json.RawMessage(nil), body...)
	call := &Call{Req: &req, Header: r.Header}
	call.Kind = s.classify(call)
	s.mu.Lock()
	call.N = s.counts[call.Kind]
	s.counts[call.Kind]++
	s.mu.Unlock()

	reply := s.respond(call)
	s.fill(&reply, &req)
	if reply.Delay > 0 {
		select {
		case <-time.After(reply.Delay):
		case <-r.Context().Done():
			return call.Kind, &req, &reply, 0
		}
	}
	if reply.Status >= 400 {
		typ := reply.ErrorType
		if typ == "" {
			typ = errorTypeFor(reply.Status)
		}
		msg := reply.ErrorMessage
		if msg == "" {
			msg = "fakeanthropic: scripted " + typ
		}
		return call.Kind, &req, &reply, writeJSON(w, reply.Status, apiError(typ, msg))
	}
	if req.Stream {
		writeSSE(r.Context(), w, &reply)
		return call.Kind, &req, &reply, 200
	}
	return call.Kind, &req, &reply, writeJSON(w, 200, messageJSON(&reply, true))
}

func errorTypeFor(status int) string {
	switch status {
	case 400:
		return "invalid_request_error"
	case 401:
		return "authentication_error"
	case 403:
		return "permission_error"
	case 404:
		return "not_found_error"
	case 413:
		return "request_too_large"
	case 429:
		return "rate_limit_error"
	case 529:
		return "overloaded_error"
	default:
		return "api_error"
	}
}

func (s *Server) respond(c *Call) Reply {
	var fn Responder
	switch c.Kind {
	case KindMain:
		fn = s.script.Main
	case KindSubagent:
		fn = s.script.Subagent
		if fn == nil {
			fn = s.script.Main
		}
	case KindCompact:
		fn = s.script.Compact
		if fn == nil {
			fn = DefaultCompact
		}
	default:
		fn = s.script.Side
		if fn == nil {
			fn = DefaultSide
		}
	}
	if fn == nil {
		return Say("OK", Usage{})
	}
	return fn(c)
}

// DefaultSide answers side requests with a short generic text.
func DefaultSide(c *Call) Reply {
	return Say("OK", Usage{InputTokens: 20, OutputTokens: 1})
}

// DefaultCompact answers a compaction request with a canned summary.
func DefaultCompact(c *Call) Reply {
	return Say("<summary>\n1. Primary Request and Intent: the user ran scripted end-to-end test prompts.\n2. Pending Tasks: none.\n</summary>",
		Usage{InputTokens: 900, OutputTokens: 40, CacheReadInputTokens: 0, CacheCreationInputTokens: 0})
}

func (s *Server) fill(r *Reply, req *MessagesRequest) {
	s.mu.Lock()
	if r.ID == "" || s.ids[r.ID] {
		// Every response must carry a unique id, also when a script reuses a Reply value.
		r.ID = newID("msg_01")
	}
	s.ids[r.ID] = true
	s.mu.Unlock()
	if r.Model == "" {
		r.Model = req.Model
	}
	parts := make([]Part, len(r.Parts))
	copy(parts, r.Parts)
	hasTool := false
	for i := range parts {
		p := &parts[i]
		switch p.Type {
		case "tool_use":
			hasTool = true
			if p.ID == "" {
				p.ID = newID("toolu_01")
			}
			if p.Input == nil {
				p.Input = map[string]any{}
			}
		case "thinking":
			if p.Signature == "" {
				p.Signature = "sig_" + newID("")
			}
		}
	}
	r.Parts = parts
	if r.StopReason == "" {
		r.StopReason = "end_turn"
		if hasTool {
			r.StopReason = "tool_use"
		}
	}
	if r.Usage == (Usage{}) {
		r.Usage = Usage{InputTokens: 100, OutputTokens: 10}
	}
}

func blockJSON(p Part, final bool) map[string]any {
	switch p.Type {
	case "thinking":
		if !final {
			return map[string]any{"type": "thinking", "thinking": "", "signature": ""}
		}
		return map[string]any{"type": "thinking", "thinking": p.Thinking, "signature": p.Signature}
	case "tool_use":
		if !final {
			return map[string]any{"type": "tool_use", "id": p.ID, "name": p.Name, "input": map[string]any{}}
		}
		return map[string]any{"type": "tool_use", "id": p.ID, "name": p.Name, "input": p.Input}
	default:
		if !final {
			return map[string]any{"type": "text", "text": ""}
		}
		return map[string]any{"type": "text", "text": p.Text}
	}
}

func usageJSON(u Usage, outputTokens int) map[string]any {
	return map[string]any{
		"input_tokens":                u.InputTokens,
		"cache_creation_input_tokens": u.CacheCreationInputTokens,
		"cache_read_input_tokens":     u.CacheReadInputTokens,
		"output_tokens":               outputTokens,
		"service_tier":                "standard",
		"cache_creation": map[string]any{
			"ephemeral_5m_input_tokens": u.CacheCreationInputTokens,
			"ephemeral_1h_input_tokens": 0,
		},
	}
}

func messageJSON(r *Reply, final bool) map[string]any {
	content := []any{}
	stop := any(nil)
	out := 1
	if final {
		for _, p := range r.Parts {
			content = append(content, blockJSON(p, true))
		}
		stop = r.StopReason
		out = r.Usage.OutputTokens
	}
	return map[string]any{
		"id": r.ID, "type": "message", "role": "assistant", "model": r.Model,
		"content": content, "stop_reason": stop, "stop_sequence": nil,
		"usage": usageJSON(r.Usage, out),
	}
}

// chunks splits s into pieces of about n bytes (on rune boundaries).
func chunks(s string, n int) []string {
	if s == "" {
		return nil
	}
	var out []string
	rs := []rune(s)
	for len(rs) > 0 {
		k := n
		if k > len(rs) {
			k = len(rs)
		}
		out = append(out, string(rs[:k]))
		rs = rs[k:]
	}
	return out
}

func writeSSE(ctx context.Context, w http.ResponseWriter, r *Reply) {
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(200)
	fl, _ := w.(http.Flusher)
	ev := func(name string, data any) bool {
		var buf bytes.Buffer
		b, _ := json.Marshal(data)
		fmt.Fprintf(&buf, "event: %s\ndata: %s\n\n", name, b)
		if _, err := w.Write(buf.Bytes()); err != nil {
			return false
		}
		if fl != nil {
			fl.Flush()
		}
		if r.ChunkDelay > 0 {
			select {
			case <-time.After(r.ChunkDelay):
			case <-ctx.Done():
				return false
			}
		}
		return ctx.Err() == nil
	}
	if !ev("message_start", map[string]any{"type": "message_start", "message": messageJSON(r, false)}) {
		return
	}
	if !ev("ping", map[string]any{"type": "ping"}) {
		return
	}
	for i, p := range r.Parts {
		if !ev("content_block_start", map[string]any{"type": "content_block_start", "index": i, "content_block": blockJSON(p, false)}) {
			return
		}
		var deltas []map[string]any
		switch p.Type {
		case "thinking":
			for _, c := range chunks(p.Thinking, 40) {
				deltas = append(deltas, map[string]any{"type": "thinking_delta", "thinking": c})
			}
			deltas = append(deltas, map[string]any{"type": "signature_delta", "signature": p.Signature})
		case "tool_use":
			in, _ := json.Marshal(p.Input)
			deltas = append(deltas, map[string]any{"type": "input_json_delta", "partial_json": ""})
			for _, c := range chunks(string(in), 24) {
				deltas = append(deltas, map[string]any{"type": "input_json_delta", "partial_json": c})
			}
		default:
			for _, c := range chunks(p.Text, 40) {
				deltas = append(deltas, map[string]any{"type": "text_delta", "text": c})
			}
		}
		for _, d := range deltas {
			if !ev("content_block_delta", map[string]any{"type": "content_block_delta", "index": i, "delta": d}) {
				return
			}
		}
		if !ev("content_block_stop", map[string]any{"type": "content_block_stop", "index": i}) {
			return
		}
	}
	if !ev("message_delta", map[string]any{"type": "message_delta",
		"delta": map[string]any{"stop_reason": r.StopReason, "stop_sequence": nil},
		"usage": map[string]any{
			"input_tokens":                r.Usage.InputTokens,
			"cache_creation_input_tokens": r.Usage.CacheCreationInputTokens,
			"cache_read_input_tokens":     r.Usage.CacheReadInputTokens,
			"output_tokens":               r.Usage.OutputTokens,
		}}) {
		return
	}
	ev("message_stop", map[string]any{"type": "message_stop"})
}
