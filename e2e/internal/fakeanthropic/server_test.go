package fakeanthropic

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// sseEvent is one server-sent event.
type sseEvent struct {
	Name string
	Data map[string]any
}

func post(t *testing.T, url string, body any) *http.Response {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-api-key", "sk-test")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

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
			out = append(out, sseEvent{name, d})
		case line == "":
		default:
			t.Errorf("unexpected SSE line %q", line)
		}
	}
	return out
}

// accumulate rebuilds the final message from the stream, the way the SDK does.
func accumulate(t *testing.T, evs []sseEvent) map[string]any {
	t.Helper()
	var msg map[string]any
	var blocks []map[string]any
	partial := map[int]string{}
	for _, e := range evs {
		switch e.Name {
		case "message_start":
			msg = e.Data["message"].(map[string]any)
		case "content_block_start":
			blocks = append(blocks, e.Data["content_block"].(map[string]any))
		case "content_block_delta":
			i := int(e.Data["index"].(float64))
			d := e.Data["delta"].(map[string]any)
			switch d["type"] {
			case "text_delta":
				blocks[i]["text"] = blocks[i]["text"].(string) + d["text"].(string)
			case "thinking_delta":
				blocks[i]["thinking"] = blocks[i]["thinking"].(string) + d["thinking"].(string)
			case "signature_delta":
				blocks[i]["signature"] = d["signature"]
			case "input_json_delta":
				partial[i] += d["partial_json"].(string)
			default:
				t.Errorf("delta type %v", d["type"])
			}
		case "content_block_stop":
			i := int(e.Data["index"].(float64))
			if p, ok := partial[i]; ok {
				var in any
				if err := json.Unmarshal([]byte(p), &in); err != nil {
					t.Fatalf("tool input %q: %v", p, err)
				}
				blocks[i]["input"] = in
			}
		case "message_delta":
			d := e.Data["delta"].(map[string]any)
			msg["stop_reason"] = d["stop_reason"]
			u := msg["usage"].(map[string]any)
			for k, v := range e.Data["usage"].(map[string]any) {
				u[k] = v
			}
		}
	}
	content := make([]any, len(blocks))
	for i, b := range blocks {
		content[i] = b
	}
	msg["content"] = content
	return msg
}

func names(evs []sseEvent) string {
	var s []string
	for _, e := range evs {
		s = append(s, e.Name)
	}
	return strings.Join(s, ",")
}

func userReq(text string, stream bool) map[string]any {
	return map[string]any{
		"model": "claude-opus-5-5", "max_tokens": 1000, "stream": stream,
		"system":   []any{map[string]any{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.328; cc_entrypoint=sdk-cli;"}, map[string]any{"type": "text", "text": "You are a Claude agent, built on Anthropic's Claude Agent SDK."}},
		"tools":    []any{map[string]any{"name": "Bash", "input_schema": map[string]any{"type": "object"}}, map[string]any{"name": "Agent"}},
		"messages": []any{map[string]any{"role": "user", "content": []any{map[string]any{"type": "text", "text": "<system-reminder>\nhi\n</system-reminder>\n"}, map[string]any{"type": "text", "text": text}}}},
	}
}

func TestStreamingAllBlockTypes(t *testing.T) {
	u := Usage{InputTokens: 11, OutputTokens: 22, CacheReadInputTokens: 33, CacheCreationInputTokens: 44}
	s := Start(t, Script{Main: Seq(Reply{
		Parts: []Part{Thinking("I should list files and then some more words to force several chunks"), Text("Let me check. ünïcødé ✓"), ToolUse("Bash", map[string]any{"command": "ls -la && echo \"quoted\"", "description": "list"}), Bash("true", "ok")},
		Usage: u,
	})})
	resp := post(t, s.URL()+"/v1/messages?beta=true", userReq("do it", true))
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") || resp.Header.Get("request-id") == "" {
		t.Fatalf("status %d headers %v", resp.StatusCode, resp.Header)
	}
	evs := readSSE(t, resp.Body)
	seq := names(evs)
	if !strings.HasPrefix(seq, "message_start,ping,content_block_start,content_block_delta") || !strings.HasSuffix(seq, "content_block_stop,message_delta,message_stop") {
		t.Errorf("sequence: %s", seq)
	}
	start := evs[0].Data["message"].(map[string]any)
	if start["stop_reason"] != nil || len(start["content"].([]any)) != 0 || !strings.HasPrefix(start["id"].(string), "msg_") {
		t.Errorf("message_start: %v", start)
	}
	msg := accumulate(t, evs)
	content := msg["content"].([]any)
	if len(content) != 4 {
		t.Fatalf("content: %v", content)
	}
	th := content[0].(map[string]any)
	if th["type"] != "thinking" || th["thinking"] != "I should list files and then some more words to force several chunks" || th["signature"] == "" {
		t.Errorf("thinking: %v", th)
	}
	if tx := content[1].(map[string]any); tx["text"] != "Let me check. ünïcødé ✓" {
		t.Errorf("text: %v", tx)
	}
	tu := content[2].(map[string]any)
	if tu["name"] != "Bash" || !strings.HasPrefix(tu["id"].(string), "toolu_") || tu["input"].(map[string]any)["command"] != "ls -la && echo \"quoted\"" {
		t.Errorf("tool_use: %v", tu)
	}
	if content[3].(map[string]any)["id"] == tu["id"] {
		t.Error("tool ids not unique")
	}
	if msg["stop_reason"] != "tool_use" {
		t.Errorf("stop_reason %v", msg["stop_reason"])
	}
	usage := msg["usage"].(map[string]any)
	if usage["input_tokens"] != 11.0 || usage["output_tokens"] != 22.0 || usage["cache_read_input_tokens"] != 33.0 || usage["cache_creation_input_tokens"] != 44.0 {
		t.Errorf("usage %v", usage)
	}
	calls := s.Calls(KindMain)
	if len(calls) != 1 || calls[0].Reply.ID != msg["id"] || calls[0].Req.Prompt() != "do it" || !calls[0].Req.Stream {
		t.Fatalf("recorded: %+v", calls)
	}
	if got := s.Usage(); got != u {
		t.Errorf("Usage() = %+v", got)
	}
}

func TestNonStreaming(t *testing.T) {
	s := Start(t, Script{Main: Seq(Say("plain", Usage{InputTokens: 1, OutputTokens: 2}))})
	resp := post(t, s.URL()+"/v1/messages", userReq("hi", false))
	var msg map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&msg); err != nil {
		t.Fatal(err)
	}
	c := msg["content"].([]any)[0].(map[string]any)
	if msg["type"] != "message" || msg["stop_reason"] != "end_turn" || c["text"] != "plain" || msg["model"] != "claude-opus-5-5" {
		t.Errorf("message: %v", msg)
	}
	if msg["usage"].(map[string]any)["output_tokens"] != 2.0 {
		t.Errorf("usage: %v", msg["usage"])
	}
}

func TestErrorReply(t *testing.T) {
	s := Start(t, Script{Main: Seq(Reply{Status: 529}, Reply{Status: 400, ErrorMessage: "prompt is too long"})})
	resp := post(t, s.URL()+"/v1/messages", userReq("hi", true))
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != 529 || body["type"] != "error" || body["error"].(map[string]any)["type"] != "overloaded_error" {
		t.Errorf("529: %d %v", resp.StatusCode, body)
	}
	resp = post(t, s.URL()+"/v1/messages", userReq("hi", true))
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != 400 || body["error"].(map[string]any)["message"] != "prompt is too long" {
		t.Errorf("400: %d %v", resp.StatusCode, body)
	}
	if len(s.MessageIDs()) != 0 || s.Usage() != (Usage{}) {
		t.Error("errors counted as messages")
	}
}

func TestUniqueIDsWhenReplyReused(t *testing.T) {
	r := Reply{ID: "msg_fixed", Parts: []Part{Text("same")}}
	s := Start(t, Script{Main: func(*Call) Reply { return r }})
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, _ := json.Marshal(userReq("x", true))
			resp, err := http.Post(s.URL()+"/v1/messages", "application/json", bytes.NewReader(b))
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	ids := s.MessageIDs()
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("duplicate id %s in %v", id, ids)
		}
		seen[id] = true
	}
	if len(ids) != 8 || !seen["msg_fixed"] {
		t.Errorf("ids: %v", ids)
	}
}

func TestClassifyAndRoute(t *testing.T) {
	s := Start(t, Script{
		Main:     Seq(Say("main-1", Usage{InputTokens: 1})),
		Subagent: Steps(Reply{Parts: []Part{Bash("echo sub", "sub")}}, Say("sub-done", Usage{InputTokens: 2})),
	})
	do := func(req map[string]any) map[string]any {
		t.Helper()
		resp := post(t, s.URL()+"/v1/messages", req)
		return accumulate(t, readSSE(t, resp.Body))
	}
	text := func(m map[string]any) string {
		c := m["content"].([]any)[0].(map[string]any)
		if c["type"] == "tool_use" {
			return "tool_use:" + c["name"].(string)
		}
		return c["text"].(string)
	}
	// Side request (no tools): generic, does not consume the script.
	side := userReq("Generate a title", true)
	delete(side, "tools")
	if got := text(do(side)); got != "OK" {
		t.Errorf("side: %q", got)
	}
	if got := text(do(userReq("hello", true))); got != "main-1" {
		t.Errorf("main: %q", got)
	}
	// Subagent: marked in the billing header.
	sub := userReq("Do the subagent task", true)
	sub["system"] = []any{map[string]any{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.328; cc_entrypoint=sdk-cli; cc_is_subagent=true;"}}
	if got := text(do(sub)); got != "tool_use:Bash" {
		t.Errorf("subagent step 0: %q", got)
	}
	sub["messages"] = append(sub["messages"].([]any),
		map[string]any{"role": "assistant", "content": []any{map[string]any{"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": map[string]any{}}}},
		map[string]any{"role": "user", "content": []any{map[string]any{"type": "tool_result", "tool_use_id": "toolu_1", "content": "sub", "is_error": false}}})
	if got := text(do(sub)); got != "sub-done" {
		t.Errorf("subagent step 1: %q", got)
	}
	// Compaction.
	comp := userReq("x", true)
	comp["messages"] = append(comp["messages"].([]any), map[string]any{"role": "assistant", "content": "ok"},
		map[string]any{"role": "user", "content": "CRITICAL: Respond with TEXT ONLY.\n\nYour task is to create a detailed summary of the conversation so far, paying close attention"})
	if got := text(do(comp)); !strings.Contains(got, "<summary>") {
		t.Errorf("compact: %q", got)
	}
	kinds := map[Kind]int{}
	for _, e := range s.Calls() {
		kinds[e.Kind]++
	}
	if fmt.Sprint(kinds) != fmt.Sprint(map[Kind]int{KindMain: 1, KindSubagent: 2, KindCompact: 1, KindSide: 1}) {
		t.Errorf("kinds: %v", kinds)
	}
	if u := s.Usage(KindSubagent); u.InputTokens != 2+100 {
		t.Errorf("subagent usage %+v", u)
	}
}

func TestByPromptAndStep(t *testing.T) {
	r := ByPrompt(
		PromptCase{Contains: "alpha", Responder: Steps(Say("a0", Usage{}), Say("a1", Usage{}))},
		PromptCase{Contains: "", Responder: Steps(Say("other", Usage{}))},
	)
	mk := func(msgs ...Message) *Call { return &Call{Req: &MessagesRequest{Messages: msgs}} }
	user := func(t string) Message { return Message{Role: "user", Content: Blocks{{Type: "text", Text: t}}} }
	asst := Message{Role: "assistant", Content: Blocks{{Type: "tool_use", ID: "t1", Name: "Bash"}}}
	res := Message{Role: "user", Content: Blocks{{Type: "tool_result", ToolUseID: "t1", Content: json.RawMessage(`"out"`)}}}
	if got := r(mk(user("alpha go"))).Parts[0].Text; got != "a0" {
		t.Errorf("step0: %s", got)
	}
	c := mk(user("alpha go"), asst, res)
	if c.Req.Step() != 1 || r(c).Parts[0].Text != "a1" {
		t.Errorf("step1: %d", c.Req.Step())
	}
	if len(c.Req.ToolResults()) != 1 || c.Req.ToolResults()[0].ResultText() != "out" {
		t.Errorf("tool results: %+v", c.Req.ToolResults())
	}
	// A second turn in the same conversation restarts the steps.
	c = mk(user("alpha go"), asst, res, Message{Role: "assistant", Content: Blocks{{Type: "text", Text: "a1"}}}, user("beta"))
	if c.Req.Step() != 0 || r(c).Parts[0].Text != "other" || c.Req.TurnPrompt() != "beta" {
		t.Errorf("turn 2: step %d prompt %q", c.Req.Step(), c.Req.TurnPrompt())
	}
}

func TestSideEndpoints(t *testing.T) {
	s := Start(t, Script{})
	resp := post(t, s.URL()+"/v1/messages/count_tokens", userReq("count me", false))
	var ct map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&ct)
	if resp.StatusCode != 200 || ct["input_tokens"].(float64) < 1 {
		t.Errorf("count_tokens: %d %v", resp.StatusCode, ct)
	}
	r2, err := http.Get(s.URL() + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Body.Close()
	var models map[string]any
	_ = json.NewDecoder(r2.Body).Decode(&models)
	if len(models["data"].([]any)) == 0 {
		t.Errorf("models: %v", models)
	}
	r3, err := http.Head(s.URL() + "/api/hello")
	if err != nil || r3.StatusCode != 200 {
		t.Errorf("hello: %v %v", err, r3)
	}
	r4, err := http.Get(s.URL() + "/v1/nope")
	if err != nil {
		t.Fatal(err)
	}
	r4.Body.Close()
	if r4.StatusCode != 404 || fmt.Sprint(s.Unknown()) != "[GET /v1/nope]" {
		t.Errorf("unknown: %d %v", r4.StatusCode, s.Unknown())
	}
	if n := len(s.Exchanges()); n != 4 {
		t.Errorf("exchanges: %d", n)
	}
}
