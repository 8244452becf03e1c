package fakeopenai

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

type sseEvent struct {
	Name string
	Data map[string]any
}

func post(t *testing.T, url string, body any) *http.Response {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// readSSE parses the stream strictly: "event: T" then "data: {type: T, …}" then a blank line.
func readSSE(t *testing.T, r io.Reader) []sseEvent {
	t.Helper()
	var out []sseEvent
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var name string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			var d map[string]any
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &d); err != nil {
				t.Fatalf("bad data %q: %v", line, err)
			}
			if d["type"] != name {
				t.Errorf("event %q carries type %v", name, d["type"])
			}
			if int(d["sequence_number"].(float64)) != len(out) {
				t.Errorf("event %d has sequence_number %v", len(out), d["sequence_number"])
			}
			out = append(out, sseEvent{name, d})
		case line == "":
		default:
			t.Errorf("unexpected SSE line %q", line)
		}
	}
	return out
}

func userMsg(text string) map[string]any {
	return map[string]any{"type": "message", "role": "user", "content": []any{map[string]any{"type": "input_text", "text": text}}}
}

// A request shaped like Codex 0.171.0's (../shared/fixtures/codex-0.171.0).
func request(input ...map[string]any) map[string]any {
	in := []any{
		map[string]any{"type": "message", "role": "developer", "content": []any{map[string]any{"type": "input_text", "text": "You are a coding agent running in the Codex CLI"}}},
		userMsg("<environment_context>\n  <cwd>/p</cwd>\n</environment_context>"),
	}
	for _, m := range input {
		in = append(in, m)
	}
	return map[string]any{"model": "mock-model", "stream": true, "input": in, "tool_choice": "auto", "parallel_tool_calls": true,
		"tools": []any{map[string]any{"type": "function", "name": "exec_command"}, map[string]any{"type": "web_search"}}}
}

func TestStreamsItemsAndUsage(t *testing.T) {
	u := Usage{InputTokens: 111, CachedTokens: 11, OutputTokens: 22, ReasoningTokens: 7}
	s := Start(t, Steps(Reply{Items: []Item{Reasoning("I should list files."), Text("Listing the files now, then answering."), Exec("ls")}, Usage: u}))
	resp := post(t, s.BaseURL()+"/responses", request(userMsg("List the files here")))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	evs := readSSE(t, resp.Body)
	var names []string
	for _, e := range evs {
		names = append(names, e.Name)
	}
	got := strings.Join(names, " ")
	want := "response.created response.output_item.added response.output_item.done " +
		"response.output_item.added response.output_text.delta response.output_text.delta response.output_text.delta response.output_item.done " +
		"response.output_item.added response.output_item.done response.completed"
	if got != want {
		t.Fatalf("events:\n%s\nwant\n%s", got, want)
	}
	var text string
	for _, e := range evs {
		if e.Name == "response.output_text.delta" {
			text += e.Data["delta"].(string)
		}
	}
	if text != "Listing the files now, then answering." {
		t.Errorf("deltas join to %q", text)
	}
	done := evs[len(evs)-2].Data["item"].(map[string]any)
	if done["type"] != "function_call" || done["name"] != "exec_command" || done["arguments"] != `{"cmd":"ls"}` ||
		!strings.HasPrefix(done["call_id"].(string), "call_") || done["status"] != "completed" {
		t.Errorf("function_call item: %v", done)
	}
	r := evs[len(evs)-1].Data["response"].(map[string]any)
	usage, _ := json.Marshal(r["usage"])
	if string(usage) != `{"input_tokens":111,"input_tokens_details":{"cached_tokens":11},"output_tokens":22,"output_tokens_details":{"reasoning_tokens":7},"total_tokens":133}` {
		t.Errorf("usage %s", usage)
	}
	calls := s.Calls()
	if len(calls) != 1 || calls[0].Reply.ID != r["id"] || !strings.HasPrefix(r["id"].(string), "resp_") || r["status"] != "completed" {
		t.Fatalf("recorded %d calls; response %v", len(calls), r)
	}
	if out := r["output"].([]any); len(out) != 3 {
		t.Errorf("completed response lists %d output items", len(out))
	}
	if calls[0].Reply.Items[2].CallID != done["call_id"] || s.Responses()[r["id"].(string)] != u {
		t.Errorf("recorded reply %+v", calls[0].Reply)
	}
	req := calls[0].Req
	if req.TurnPrompt() != "List the files here" || req.Step() != 0 || !req.Stream || strings.Join(req.ToolNames(), ",") != "exec_command,web_search" {
		t.Errorf("decoded request: prompt %q step %d tools %v", req.TurnPrompt(), req.Step(), req.ToolNames())
	}
}

// Steps answers from the input alone: after a function_call_output comes
// the next step, whatever order the calls arrive in; every reply gets its
// own ids even when the script reuses a value.
func TestStepsIsStateless(t *testing.T) {
	s := Start(t, Steps(
		Reply{Items: []Item{Reasoning("Run it."), Exec("echo hi")}},
		Say("It printed hi.", Usage{InputTokens: 90, OutputTokens: 5}),
	))
	afterTool := request(userMsg("run echo"),
		map[string]any{"type": "reasoning", "summary": []any{map[string]any{"type": "summary_text", "text": "Run it."}}},
		map[string]any{"type": "function_call", "name": "exec_command", "arguments": `{"cmd":"echo hi"}`, "call_id": "call_1"},
		map[string]any{"type": "function_call_output", "call_id": "call_1", "output": "Process exited with code 0\nOutput:\nhi\n"})
	fresh := request(userMsg("run echo"))
	var wg sync.WaitGroup
	for _, body := range []map[string]any{afterTool, fresh, afterTool, fresh} {
		wg.Go(func() {
			resp := post(t, s.BaseURL()+"/responses", body)
			io.Copy(io.Discard, resp.Body)
		})
	}
	wg.Wait()
	ids := map[string]bool{}
	for _, c := range s.Calls() {
		ids[c.Reply.ID] = true
		switch c.Req.Step() {
		case 0:
			if c.Reply.Items[1].Type != "function_call" || c.Reply.Usage.InputTokens == 0 {
				t.Errorf("step 0 answered %+v", c.Reply)
			}
		case 1:
			out, ok := c.Req.LastToolOutput()
			if c.Reply.Items[0].Text != "It printed hi." || !ok || out.CallID != "call_1" || !strings.Contains(out.OutputText(), "hi") {
				t.Errorf("step 1 answered %+v (tool output %+v)", c.Reply, out)
			}
		default:
			t.Errorf("step %d", c.Req.Step())
		}
	}
	if len(ids) != 4 {
		t.Errorf("%d distinct response ids for 4 calls", len(ids))
	}
}

func TestRequestHelpers(t *testing.T) {
	b, _ := json.Marshal(request(
		userMsg("first question"),
		map[string]any{"type": "message", "role": "assistant", "content": []any{map[string]any{"type": "output_text", "text": "First."}}},
		userMsg("second question"),
		map[string]any{"type": "function_call", "call_id": "a"}, map[string]any{"type": "function_call", "call_id": "b"},
		map[string]any{"type": "function_call_output", "call_id": "a", "output": []any{map[string]any{"type": "input_text", "text": "out-a"}}},
		map[string]any{"type": "function_call_output", "call_id": "b", "output": "out-b"},
		map[string]any{"type": "reasoning"}, map[string]any{"type": "function_call", "call_id": "c"},
		map[string]any{"type": "function_call_output", "call_id": "c", "output": "out-c"},
	))
	var r Request
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.TurnPrompt() != "second question" || strings.Join(r.Prompts(), "|") != "first question|second question" {
		t.Errorf("prompt %q prompts %q", r.TurnPrompt(), r.Prompts())
	}
	// Two parallel calls are one model response; reasoning + call another.
	if r.Step() != 2 {
		t.Errorf("step %d, want 2", r.Step())
	}
	outs := r.ToolOutputs()
	if len(outs) != 3 || outs[0].OutputText() != "out-a" || outs[1].OutputText() != "out-b" {
		t.Errorf("tool outputs %+v", outs)
	}
}

// Codex 0.171.0's auto-compaction goes through /v1/responses too: the
// summarising request and the compacted history are recognised, and the
// prompt of the turn stays the one the user typed.
func TestCompactionRequests(t *testing.T) {
	decode := func(body map[string]any) *Request {
		b, _ := json.Marshal(body)
		var r Request
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		return &r
	}
	summarise := decode(request(userMsg("make a plan"),
		map[string]any{"type": "function_call", "call_id": "a"}, map[string]any{"type": "function_call_output", "call_id": "a", "output": "x"},
		userMsg(CompactionPrompt+" Create a handoff summary for another LLM that will resume the task.")))
	after := decode(request(userMsg("make a plan"), userMsg(SummaryBridge+" and produced a summary of its thinking process. …\nthe summary")))
	plain := decode(request(userMsg("make a plan")))
	if !summarise.IsCompaction() || summarise.TurnPrompt() != "make a plan" || after.IsCompaction() || plain.IsCompaction() {
		t.Errorf("IsCompaction %v %v %v; prompt %q", summarise.IsCompaction(), after.IsCompaction(), plain.IsCompaction(), summarise.TurnPrompt())
	}
	if !after.Compacted() || plain.Compacted() || after.TurnPrompt() != "make a plan" || len(after.Prompts()) != 1 {
		t.Errorf("Compacted %v %v; prompt %q prompts %q", after.Compacted(), plain.Compacted(), after.TurnPrompt(), after.Prompts())
	}
}

func TestErrorsAndUnknownPaths(t *testing.T) {
	s := Start(t, Seq(Reply{Status: 500}, Reply{Status: 429, ErrorMessage: "slow down"}))
	for _, want := range []struct {
		status int
		typ    string
	}{{500, "server_error"}, {429, "rate_limit_exceeded"}} {
		resp := post(t, s.BaseURL()+"/responses", request(userMsg("hi")))
		var body struct {
			Error struct{ Message, Type string }
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != want.status || body.Error.Type != want.typ || body.Error.Message == "" {
			t.Errorf("status %d body %+v err %v, want %d %s", resp.StatusCode, body, err, want.status, want.typ)
		}
	}
	// Past the script: "Done.".
	resp := post(t, s.BaseURL()+"/responses", request(userMsg("hi")))
	if evs := readSSE(t, resp.Body); evs[len(evs)-1].Name != "response.completed" {
		t.Errorf("after the script: %v", evs)
	}
	if len(s.Responses()) != 1 {
		t.Errorf("errors counted as responses: %v", s.Responses())
	}
	if resp := post(t, s.URL()+"/v1/models", nil); resp.StatusCode != 404 || strings.Join(s.Unknown(), ",") != "POST /v1/models" {
		t.Errorf("unknown path: %d %v", resp.StatusCode, s.Unknown())
	}
	if resp := post(t, s.BaseURL()+"/responses", "not an object"); resp.StatusCode != 400 {
		t.Errorf("bad body: %d", resp.StatusCode)
	}
}

// A namespaced call (Codex's multi_agent_v1 tools) carries its namespace;
// a plain one has none.
func TestNamespacedCall(t *testing.T) {
	spawn := FunctionCall("spawn_agent", map[string]any{"message": "sub"})
	spawn.Namespace = "multi_agent_v1"
	s := Start(t, Steps(Reply{Items: []Item{spawn, Exec("ls")}}))
	body := request(userMsg("hi"))
	body["stream"] = false
	var r struct{ Output []map[string]any }
	if err := json.NewDecoder(post(t, s.BaseURL()+"/responses", body).Body).Decode(&r); err != nil || len(r.Output) != 2 {
		t.Fatalf("%+v %v", r, err)
	}
	if r.Output[0]["namespace"] != "multi_agent_v1" || r.Output[0]["name"] != "spawn_agent" {
		t.Errorf("namespaced call %v", r.Output[0])
	}
	if _, ok := r.Output[1]["namespace"]; ok {
		t.Errorf("plain call has a namespace: %v", r.Output[1])
	}
}

func TestNonStreaming(t *testing.T) {
	s := Start(t, nil)
	body := request(userMsg("hi"))
	body["stream"] = false
	resp := post(t, s.BaseURL()+"/responses", body)
	var r struct {
		ID     string
		Output []map[string]any
		Usage  map[string]any
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || r.ID == "" || len(r.Output) != 1 || r.Usage["total_tokens"] == nil {
		t.Errorf("non-streaming: %+v %v", r, err)
	}
}

func TestChunksKeepRunes(t *testing.T) {
	s := strings.Repeat("é", 20) + "abc"
	var joined string
	for _, c := range chunks(s, 7) {
		if !strings.HasPrefix(c, "é") && !strings.HasPrefix(c, "a") && c != "bc" && c != "c" {
			t.Errorf("chunk %q splits a rune", c)
		}
		joined += c
	}
	if joined != s {
		t.Errorf("chunks join to %q", joined)
	}
}
