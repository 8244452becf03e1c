// Package fakeopenai is a scripted stand-in for the OpenAI Responses API that
// the Codex CLI talks to when its model provider's base_url points at it.
//
// It answers POST /v1/responses as a server-sent event stream the way the
// real API does (response.created, per output item response.output_item.added,
// text deltas and response.output_item.done, then response.completed with the
// response id and usage), or with a JSON error for a scripted failure. Output
// items are assistant messages, reasoning summaries and function calls. The
// reply is chosen by a Responder from the request alone (Steps, ByPrompt), so
// it does not depend on call order; everything received is recorded.
package fakeopenai

import (
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

// Item is one output item of a scripted response.
type Item struct {
	Type      string // "message", "reasoning" or "function_call"
	Text      string // message text or reasoning summary
	CallID    string // function_call: generated ("call_…") when empty
	Name      string // function_call: the tool's name
	Arguments string // function_call: JSON arguments
	Namespace string // function_call: the tool namespace, e.g. "multi_agent_v1" (omitted when empty)
}

// Text is an assistant message.
func Text(s string) Item { return Item{Type: "message", Text: s} }

// Reasoning is a reasoning item with one summary text.
func Reasoning(s string) Item { return Item{Type: "reasoning", Text: s} }

// FunctionCall is a call of tool name with args marshalled to JSON.
func FunctionCall(name string, args any) Item {
	b, err := json.Marshal(args)
	if err != nil {
		panic(fmt.Sprintf("fakeopenai: arguments of %s: %v", name, err))
	}
	return Item{Type: "function_call", Name: name, Arguments: string(b)}
}

// Exec is a call of Codex's shell tool (exec_command, the one it offers a
// model missing from its catalog) running cmd.
func Exec(cmd string) Item { return FunctionCall("exec_command", map[string]any{"cmd": cmd}) }

// Usage is the token usage of one response, counted the way the Responses
// API does: input includes the cached tokens, output includes reasoning.
type Usage struct {
	InputTokens     int
	CachedTokens    int
	OutputTokens    int
	ReasoningTokens int
}

// Total is input + output.
func (u Usage) Total() int { return u.InputTokens + u.OutputTokens }

// Add returns u+v.
func (u Usage) Add(v Usage) Usage {
	return Usage{u.InputTokens + v.InputTokens, u.CachedTokens + v.CachedTokens,
		u.OutputTokens + v.OutputTokens, u.ReasoningTokens + v.ReasoningTokens}
}

func (u Usage) wire() map[string]any {
	return map[string]any{
		"input_tokens":          u.InputTokens,
		"input_tokens_details":  map[string]any{"cached_tokens": u.CachedTokens},
		"output_tokens":         u.OutputTokens,
		"output_tokens_details": map[string]any{"reasoning_tokens": u.ReasoningTokens},
		"total_tokens":          u.Total(),
	}
}

// Reply is one scripted response.
type Reply struct {
	ID    string // response id; generated ("resp_…", unique per reply sent) when empty
	Items []Item
	Usage Usage // zero → derived from the request size and the reply

	// Status, when >= 400, answers an HTTP error with an OpenAI error body.
	Status       int
	ErrorMessage string

	Delay time.Duration // wait before answering
}

// Say is a reply with one assistant message.
func Say(text string, u Usage) Reply { return Reply{Items: []Item{Text(text)}, Usage: u} }

// Call is what a Responder sees.
type Call struct {
	N      int // 0-based ordinal of this call among /v1/responses calls
	Req    *Request
	Header http.Header
}

// Responder decides the reply to a call. It may be called concurrently.
type Responder func(*Call) Reply

// Exchange is one request the server received and what it answered.
type Exchange struct {
	Time   time.Time
	Method string
	Path   string
	Header http.Header
	Body   []byte
	Req    *Request // nil unless a /v1/responses body decoded
	Reply  *Reply   // the reply sent (ID, call ids and Usage filled in)
	Status int
}

// Server is a running fake Responses API.
type Server struct {
	t       testing.TB
	respond Responder
	http    *localhttp.Server

	log localhttp.Log[Exchange]

	mu    sync.Mutex
	calls int
}

// Start starts the fake on 127.0.0.1:<free port>; the test's cleanup stops
// it. A nil responder answers every call with Say("OK").
func Start(t testing.TB, respond Responder) *Server {
	t.Helper()
	if respond == nil {
		respond = func(*Call) Reply { return Say("OK", Usage{}) }
	}
	s := &Server{t: t, respond: respond}
	s.http = localhttp.Start(t, "fakeopenai", s)
	return s
}

// Close stops the server (also done by the test's cleanup).
func (s *Server) Close() { s.http.Close() }

// URL is http://127.0.0.1:PORT.
func (s *Server) URL() string { return s.http.URL() }

// BaseURL is the provider base_url for Codex's config: URL() + "/v1".
func (s *Server) BaseURL() string { return s.http.URL() + "/v1" }

// Exchanges returns every request received so far, in the order they were
// answered (waiting for answers still being written; localhttp.Log).
func (s *Server) Exchanges() []Exchange { return s.log.All() }

// Calls returns the decoded /v1/responses exchanges.
func (s *Server) Calls() []Exchange {
	var out []Exchange
	for _, e := range s.Exchanges() {
		if e.Req != nil {
			out = append(out, e)
		}
	}
	return out
}

// Responses maps the id of every successful response sent to its usage.
func (s *Server) Responses() map[string]Usage {
	out := map[string]Usage{}
	for _, e := range s.Calls() {
		if e.Reply != nil && e.Status == http.StatusOK {
			out[e.Reply.ID] = e.Reply.Usage
		}
	}
	return out
}

// Unknown lists "METHOD /path" of requests to paths the fake does not serve.
func (s *Server) Unknown() []string { return s.log.Unknown() }

func newID(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	record := s.log.Begin()
	body, _ := io.ReadAll(r.Body)
	ex := Exchange{Time: time.Now(), Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body}
	defer func() { record(ex) }()
	w.Header().Set("x-request-id", newID("req_"))
	if r.Method == http.MethodPost && strings.TrimSuffix(r.URL.Path, "/") == "/v1/responses" {
		ex.Req, ex.Reply, ex.Status = s.responses(w, r, body)
	} else {
		s.log.NoteUnknown(r.Method + " " + r.URL.Path)
		if s.t != nil {
			s.t.Logf("fakeopenai: unknown request %s %s (%d bytes)", r.Method, r.URL.RequestURI(), len(body))
		}
		ex.Status = writeError(w, http.StatusNotFound, "fakeopenai: no such endpoint "+r.URL.Path)
	}
}

func writeError(w http.ResponseWriter, status int, msg string) int {
	typ := "invalid_request_error"
	if status >= 500 {
		typ = "server_error"
	} else if status == http.StatusTooManyRequests {
		typ = "rate_limit_exceeded"
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": nil}})
	return status
}

func (s *Server) responses(w http.ResponseWriter, r *http.Request, body []byte) (*Request, *Reply, int) {
	if enc := r.Header.Get("Content-Encoding"); enc != "" && enc != "identity" {
		return nil, nil, writeError(w, http.StatusUnsupportedMediaType, "fakeopenai: request Content-Encoding "+enc+" not supported")
	}
	var req Request
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, nil, writeError(w, http.StatusBadRequest, "fakeopenai: "+err.Error())
	}
	req.Raw = append(json.RawMessage(nil), body...)
	s.mu.Lock()
	call := &Call{N: s.calls, Req: &req, Header: r.Header}
	s.calls++
	s.mu.Unlock()

	reply := s.respond(call)
	fill(&reply, len(body))
	if reply.Delay > 0 {
		select {
		case <-time.After(reply.Delay):
		case <-r.Context().Done():
			return &req, &reply, 0
		}
	}
	if reply.Status >= 400 {
		msg := reply.ErrorMessage
		if msg == "" {
			msg = fmt.Sprintf("fakeopenai: scripted HTTP %d", reply.Status)
		}
		return &req, &reply, writeError(w, reply.Status, msg)
	}
	if !req.Stream {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(responseObject(&reply, req.Model, "completed", true))
		return &req, &reply, http.StatusOK
	}
	writeSSE(r.Context(), w, &reply, req.Model)
	return &req, &reply, http.StatusOK
}

// fill gives the reply (a copy of the script's value) its own ids and a usage.
func fill(r *Reply, reqBytes int) {
	if r.ID == "" {
		r.ID = newID("resp_")
	}
	r.Items = append([]Item(nil), r.Items...)
	out := 0
	for i := range r.Items {
		it := &r.Items[i]
		if it.Type == "function_call" && it.CallID == "" {
			it.CallID = newID("call_")
		}
		out += len(it.Text)/4 + len(it.Arguments)/4 + 1
	}
	if r.Usage == (Usage{}) {
		r.Usage = Usage{InputTokens: reqBytes/4 + 1, OutputTokens: out}
	}
}

// itemObjects are the reply's items in the API's shape, with stable item ids.
func itemObjects(r *Reply, done bool) []map[string]any {
	status := "in_progress"
	if done {
		status = "completed"
	}
	out := make([]map[string]any, len(r.Items))
	for i, it := range r.Items {
		id := fmt.Sprintf("%s_%s_%d", map[string]string{"message": "msg", "reasoning": "rs", "function_call": "fc"}[it.Type], strings.TrimPrefix(r.ID, "resp_"), i)
		switch it.Type {
		case "message":
			content := []any{}
			if done {
				content = []any{map[string]any{"type": "output_text", "text": it.Text, "annotations": []any{}}}
			}
			out[i] = map[string]any{"type": "message", "id": id, "status": status, "role": "assistant", "content": content}
		case "reasoning":
			summary := []any{}
			if done {
				summary = []any{map[string]any{"type": "summary_text", "text": it.Text}}
			}
			out[i] = map[string]any{"type": "reasoning", "id": id, "summary": summary}
		case "function_call":
			args := ""
			if done {
				args = it.Arguments
			}
			out[i] = map[string]any{"type": "function_call", "id": id, "status": status, "call_id": it.CallID, "name": it.Name, "arguments": args}
			if it.Namespace != "" {
				out[i]["namespace"] = it.Namespace
			}
		default:
			panic("fakeopenai: unknown item type " + it.Type)
		}
	}
	return out
}

func responseObject(r *Reply, model, status string, done bool) map[string]any {
	o := map[string]any{"id": r.ID, "object": "response", "created_at": time.Now().Unix(), "status": status,
		"model": model, "output": []any{}}
	if done {
		o["output"] = itemObjects(r, true)
		o["usage"] = r.Usage.wire()
	}
	return o
}

// writeSSE streams the reply: response.created, per item output_item.added
// (+ output_text.delta chunks for a message) and output_item.done, then
// response.completed.
func writeSSE(ctx context.Context, w http.ResponseWriter, r *Reply, model string) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	seq := 0
	send := func(typ string, data map[string]any) bool {
		if ctx.Err() != nil {
			return false
		}
		data["type"] = typ
		data["sequence_number"] = seq
		seq++
		b, _ := json.Marshal(data)
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", typ, b); err != nil {
			return false
		}
		if fl != nil {
			fl.Flush()
		}
		return true
	}
	if !send("response.created", map[string]any{"response": responseObject(r, model, "in_progress", false)}) {
		return
	}
	added, done := itemObjects(r, false), itemObjects(r, true)
	for i, it := range r.Items {
		if !send("response.output_item.added", map[string]any{"output_index": i, "item": added[i]}) {
			return
		}
		if it.Type == "message" {
			for _, chunk := range chunks(it.Text, 16) {
				if !send("response.output_text.delta", map[string]any{"item_id": done[i]["id"], "output_index": i, "content_index": 0, "delta": chunk}) {
					return
				}
			}
		}
		if !send("response.output_item.done", map[string]any{"output_index": i, "item": done[i]}) {
			return
		}
	}
	send("response.completed", map[string]any{"response": responseObject(r, model, "completed", true)})
}

// chunks splits s into pieces of at most n bytes, on rune boundaries.
func chunks(s string, n int) []string {
	var out []string
	for len(s) > n {
		i := n
		for i > 0 && !isRuneStart(s[i]) {
			i--
		}
		if i == 0 {
			i = n
		}
		out = append(out, s[:i])
		s = s[i:]
	}
	if s != "" {
		out = append(out, s)
	}
	return out
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
