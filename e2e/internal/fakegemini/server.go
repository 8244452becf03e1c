// Package fakegemini is a scripted stand-in for the Gemini API (v1beta) that
// the Gemini CLI talks to when GOOGLE_GEMINI_BASE_URL points at it.
//
// It answers POST /v1beta/models/<model>:streamGenerateContent?alt=sse the
// way the real API does (server-sent events "data: <GenerateContentResponse>"
// separated by "\r\n\r\n"; candidates whose parts are text, thoughts or
// functionCall; usageMetadata, modelVersion and responseId), plus
// generateContent, countTokens and the model listing, so nothing the CLI asks
// is left unanswered and retried. Answers are chosen from the request alone
// (Steps, ByPrompt), so retries and resumed sessions get the same answer.
// Every exchange is recorded for assertions.
package fakegemini

import (
	"context"
	"crypto/rand"
	"encoding/base64"
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

// Part is one part of a scripted answer.
type Part struct {
	Text    string
	Thought bool          // a thought summary ({"text":…,"thought":true})
	Call    *FunctionCall // a tool call
}

// Text is a text part.
func Text(s string) Part { return Part{Text: s} }

// Thought is a thought part.
func Thought(s string) Part { return Part{Text: s, Thought: true} }

// Call is a functionCall part (no id, as the Gemini API sends it for
// gemini-2.5 models: the CLI makes one up).
func Call(name string, args map[string]any) Part {
	return Part{Call: &FunctionCall{Name: name, Args: args}}
}

// Shell is a run_shell_command call running command.
func Shell(command string) Part {
	return Call("run_shell_command", map[string]any{"command": command})
}

// Usage is a response's usageMetadata.
type Usage struct {
	Prompt     int `json:"promptTokenCount"`
	Candidates int `json:"candidatesTokenCount"`
	Cached     int `json:"cachedContentTokenCount"`
	Thoughts   int `json:"thoughtsTokenCount"`
	// Total defaults to Prompt+Candidates+Thoughts (the API's arithmetic).
	Total int `json:"totalTokenCount"`
}

// Add returns u+v.
func (u Usage) Add(v Usage) Usage {
	return Usage{u.Prompt + v.Prompt, u.Candidates + v.Candidates, u.Cached + v.Cached, u.Thoughts + v.Thoughts, u.Total + v.Total}
}

// Reply is one scripted answer.
type Reply struct {
	ResponseID   string // generated (unique) when empty
	Model        string // modelVersion; defaults to the model in the request path
	Parts        []Part
	FinishReason string // default "STOP"
	Usage        Usage  // zero → a small default

	// Status, when >= 400, answers an API error ({"error":{code,message,status}}).
	// The CLI retries 429 and 5xx with backoff; 400 ends the turn.
	Status       int
	ErrorMessage string

	Delay time.Duration // wait before answering
}

// Say is a text-only reply.
func Say(text string, u Usage) Reply { return Reply{Parts: []Part{Text(text)}, Usage: u} }

// ModelCall is what a Responder sees.
type ModelCall struct {
	N      int    // 0-based ordinal among the server's model calls
	Model  string // from the path
	Stream bool   // streamGenerateContent
	Req    *Request
	Header http.Header
}

// Responder decides the reply to a model call. It may be called concurrently.
type Responder func(*ModelCall) Reply

// Steps answers by the request's Step: replies[Step()]. Past the end it
// answers Done. Stateless: a retried or resumed request gets the same answer.
func Steps(replies ...Reply) Responder {
	return func(c *ModelCall) Reply {
		if i := c.Req.Step(); i < len(replies) {
			return replies[i]
		}
		return Done(c)
	}
}

// PromptCase is one branch of ByPrompt.
type PromptCase struct {
	Contains  string // "" matches every prompt
	Responder Responder
}

// ByPrompt picks the responder by the prompt that opened the current turn
// (first matching case wins; Done when none matches).
func ByPrompt(cases ...PromptCase) Responder {
	return func(c *ModelCall) Reply {
		p := c.Req.TurnPrompt()
		for _, pc := range cases {
			if pc.Contains == "" || strings.Contains(p, pc.Contains) {
				return pc.Responder(c)
			}
		}
		return Done(c)
	}
}

// Done is the default answer: a short text, after a tool result or not.
func Done(c *ModelCall) Reply {
	return Say("Done.", Usage{Prompt: 50, Candidates: 2})
}

// Exchange is one request the server received and what it answered.
type Exchange struct {
	Time   time.Time
	Method string
	Path   string
	Query  string
	Header http.Header
	Body   []byte
	Model  string   // for model calls
	Action string   // "streamGenerateContent", "generateContent", "countTokens", … ("" for other paths)
	Req    *Request // decoded body of generateContent / streamGenerateContent
	Reply  *Reply   // the answer sent (ResponseID, Model, Usage filled in)
	Status int
}

// Server is a running fake Gemini API.
type Server struct {
	t       testing.TB
	respond Responder
	http    *localhttp.Server

	log localhttp.Log[Exchange]

	mu    sync.Mutex
	calls int
	ids   map[string]bool
}

// Start starts the fake API on 127.0.0.1:<free port> (stopped when the test
// ends). A nil responder answers every call with Done.
func Start(t testing.TB, respond Responder) *Server {
	t.Helper()
	if respond == nil {
		respond = Done
	}
	s := &Server{t: t, respond: respond, ids: map[string]bool{}}
	s.http = localhttp.Start(t, "fakegemini", s)
	return s
}

// Close stops the server (also done by the test's cleanup).
func (s *Server) Close() { s.http.Close() }

// URL is the base URL for GOOGLE_GEMINI_BASE_URL (http://127.0.0.1:PORT).
func (s *Server) URL() string { return s.http.URL() }

// Exchanges returns every request received so far, in the order they were
// answered (waiting for answers still being written; localhttp.Log).
func (s *Server) Exchanges() []Exchange { return s.log.All() }

// Calls returns the model calls (generateContent and streamGenerateContent).
func (s *Server) Calls() []Exchange {
	var out []Exchange
	for _, e := range s.Exchanges() {
		if e.Req != nil {
			out = append(out, e)
		}
	}
	return out
}

// Answered returns the successful answers, in order.
func (s *Server) Answered() []Reply {
	var out []Reply
	for _, e := range s.Calls() {
		if e.Reply != nil && e.Status == http.StatusOK {
			out = append(out, *e.Reply)
		}
	}
	return out
}

// Usage sums the usage of the successful answers.
func (s *Server) Usage() Usage {
	var u Usage
	for _, r := range s.Answered() {
		u = u.Add(r.Usage)
	}
	return u
}

// Unknown lists "METHOD /path" of requests the fake does not know.
func (s *Server) Unknown() []string { return s.log.Unknown() }

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// splitPath parses ".../models/<model>:<action>".
func splitPath(path string) (model, action string, ok bool) {
	i := strings.Index(path, "/models/")
	if i < 0 {
		return "", "", false
	}
	return strings.Cut(path[i+len("/models/"):], ":")
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	record := s.log.Begin()
	body, _ := io.ReadAll(r.Body)
	ex := Exchange{Time: time.Now(), Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body}
	defer func() { record(ex) }()
	model, action, isModel := splitPath(r.URL.Path)
	switch {
	case r.Method == http.MethodPost && isModel && (action == "streamGenerateContent" || action == "generateContent"):
		ex.Model, ex.Action = model, action
		ex.Req, ex.Reply, ex.Status = s.generate(w, r, model, action == "streamGenerateContent", body)
	case r.Method == http.MethodPost && isModel && action == "countTokens":
		ex.Model, ex.Action = model, action
		ex.Status = writeJSON(w, http.StatusOK, map[string]any{"totalTokens": len(body)/4 + 1})
	case r.Method == http.MethodGet && strings.HasSuffix(strings.TrimSuffix(r.URL.Path, "/"), "/models"):
		ex.Status = writeJSON(w, http.StatusOK, map[string]any{"models": []any{modelJSON("gemini-2.5-flash"), modelJSON("gemini-2.5-pro")}})
	case r.Method == http.MethodGet && isModel && action == "":
		ex.Model = model
		ex.Status = writeJSON(w, http.StatusOK, modelJSON(model))
	default:
		s.log.NoteUnknown(r.Method + " " + r.URL.Path)
		s.t.Logf("fakegemini: unknown request %s %s (%d bytes)", r.Method, r.URL.RequestURI(), len(body))
		ex.Status = writeJSON(w, http.StatusNotFound, apiError(http.StatusNotFound, "fakegemini: no such endpoint "+r.URL.Path))
	}
}

func modelJSON(id string) map[string]any {
	return map[string]any{"name": "models/" + id, "displayName": id, "inputTokenLimit": 1048576, "outputTokenLimit": 65536,
		"supportedGenerationMethods": []string{"generateContent", "countTokens"}}
}

func writeJSON(w http.ResponseWriter, status int, v any) int {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
	return status
}

var statusNames = map[int]string{400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
	404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}

func apiError(code int, msg string) map[string]any {
	st := statusNames[code]
	if st == "" {
		st = "UNKNOWN"
	}
	return map[string]any{"error": map[string]any{"code": code, "message": msg, "status": st}}
}

func (s *Server) generate(w http.ResponseWriter, r *http.Request, model string, stream bool, body []byte) (*Request, *Reply, int) {
	var req Request
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, nil, writeJSON(w, http.StatusBadRequest, apiError(400, "fakegemini: "+err.Error()))
	}
	req.Raw = append(json.RawMessage(nil), body...)
	s.mu.Lock()
	call := &ModelCall{N: s.calls, Model: model, Stream: stream, Req: &req, Header: r.Header}
	s.calls++
	s.mu.Unlock()

	reply := s.respond(call)
	s.fill(&reply, model)
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
			msg = fmt.Sprintf("fakegemini: scripted error %d", reply.Status)
		}
		return &req, &reply, writeJSON(w, reply.Status, apiError(reply.Status, msg))
	}
	if !stream {
		return &req, &reply, writeJSON(w, http.StatusOK, responseJSON(&reply, reply.Parts, true))
	}
	writeSSE(r.Context(), w, &reply)
	return &req, &reply, http.StatusOK
}

func (s *Server) fill(r *Reply, model string) {
	s.mu.Lock()
	if r.ResponseID == "" || s.ids[r.ResponseID] {
		// Every answer carries its own id, also when a script reuses a Reply value.
		r.ResponseID = newID()
	}
	s.ids[r.ResponseID] = true
	s.mu.Unlock()
	if r.Model == "" {
		r.Model = model
	}
	if r.FinishReason == "" {
		r.FinishReason = "STOP"
	}
	if r.Usage == (Usage{}) {
		r.Usage = Usage{Prompt: 100, Candidates: 10}
	}
	if r.Usage.Total == 0 {
		r.Usage.Total = r.Usage.Prompt + r.Usage.Candidates + r.Usage.Thoughts
	}
}

func partJSON(p Part) map[string]any {
	switch {
	case p.Call != nil:
		fc := map[string]any{"name": p.Call.Name, "args": p.Call.Args}
		if p.Call.ID != "" {
			fc["id"] = p.Call.ID
		}
		return map[string]any{"functionCall": fc}
	case p.Thought:
		return map[string]any{"text": p.Text, "thought": true}
	default:
		return map[string]any{"text": p.Text}
	}
}

// responseJSON is one GenerateContentResponse holding parts; the last one of
// an answer carries finishReason and usageMetadata.
func responseJSON(r *Reply, parts []Part, last bool) map[string]any {
	ps := make([]any, 0, len(parts))
	for _, p := range parts {
		ps = append(ps, partJSON(p))
	}
	cand := map[string]any{"content": map[string]any{"role": "model", "parts": ps}, "index": 0}
	out := map[string]any{"candidates": []any{cand}, "modelVersion": r.Model, "responseId": r.ResponseID}
	if last {
		cand["finishReason"] = r.FinishReason
		out["usageMetadata"] = r.Usage
	}
	return out
}

// chunkSize is how many runes of text go into one streamed event.
const chunkSize = 48

// streamParts splits an answer into the parts of its events: a text part in
// pieces of chunkSize runes, thoughts and calls whole.
func streamParts(parts []Part) []Part {
	var out []Part
	for _, p := range parts {
		rs := []rune(p.Text)
		if p.Call != nil || p.Thought || len(rs) <= chunkSize {
			out = append(out, p)
			continue
		}
		for len(rs) > 0 {
			k := min(chunkSize, len(rs))
			out = append(out, Text(string(rs[:k])))
			rs = rs[k:]
		}
	}
	return out
}

func writeSSE(ctx context.Context, w http.ResponseWriter, r *Reply) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	parts := streamParts(r.Parts)
	if len(parts) == 0 {
		parts = []Part{Text("")}
	}
	for i, p := range parts {
		b, _ := json.Marshal(responseJSON(r, []Part{p}, i == len(parts)-1))
		if _, err := fmt.Fprintf(w, "data: %s\r\n\r\n", b); err != nil || ctx.Err() != nil {
			return
		}
		if fl != nil {
			fl.Flush()
		}
	}
}
