package fakegemini

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const streamPath = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"

// prompt is a first request as Gemini CLI 0.61.0 sends it (shortened).
const prompt = `{"contents":[{"role":"user","parts":[{"text":"<session_context>\nThis is the Gemini CLI.\n</session_context>"},{"text":"List the files here"}]}],
"tools":[{"functionDeclarations":[{"name":"run_shell_command"},{"name":"read_file"}]}],"generationConfig":{"temperature":1}}`

// afterTool is the request after the model's tool call ran.
const afterTool = `{"contents":[{"role":"user","parts":[{"text":"<session_context/>"},{"text":"List the files here"}]},
{"role":"model","parts":[{"functionCall":{"id":"run_shell_command_1_0","name":"run_shell_command","args":{"command":"ls"}},"thoughtSignature":"skip_thought_signature_validator"}]},
{"role":"user","parts":[{"functionResponse":{"id":"run_shell_command_1_0","name":"run_shell_command","response":{"output":"file_a.txt"}}}]}]}`

func post(t *testing.T, url, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("x-goog-api-key", "k")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

type response struct {
	Candidates []struct {
		Content struct {
			Role  string `json:"role"`
			Parts []struct {
				Text         string        `json:"text"`
				Thought      bool          `json:"thought"`
				FunctionCall *FunctionCall `json:"functionCall"`
			} `json:"parts"`
		} `json:"content"`
		FinishReason string `json:"finishReason"`
	} `json:"candidates"`
	UsageMetadata *Usage `json:"usageMetadata"`
	ModelVersion  string `json:"modelVersion"`
	ResponseID    string `json:"responseId"`
}

// events splits an SSE body the way the Gemini SDK does: "data: " lines,
// events separated by a blank line (\r\n\r\n here).
func events(t *testing.T, body []byte) []response {
	t.Helper()
	if !bytes.Contains(body, []byte("\r\n\r\n")) {
		t.Fatalf("events not separated by CRLF CRLF: %q", body)
	}
	var out []response
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			t.Fatalf("unexpected SSE line %q", line)
		}
		var r response
		if err := json.Unmarshal([]byte(data), &r); err != nil {
			t.Fatalf("event %q: %v", data, err)
		}
		out = append(out, r)
	}
	return out
}

func TestStreamAnswersByStep(t *testing.T) {
	long := strings.Repeat("0123456789", 12) // split over several events
	s := Start(t, Steps(
		Reply{Parts: []Part{Thought("I should list the files."), Shell("ls")}, Usage: Usage{Prompt: 111, Candidates: 22, Cached: 11, Thoughts: 7}},
		Say(long, Usage{Prompt: 200, Candidates: 10, Cached: 50}),
	))

	resp, body := post(t, s.URL()+streamPath, prompt)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d, type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	evs := events(t, body)
	if len(evs) != 2 {
		t.Fatalf("want a thought event and a call event, got %d: %s", len(evs), body)
	}
	first, last := evs[0], evs[1]
	if p := first.Candidates[0].Content.Parts[0]; !p.Thought || p.Text != "I should list the files." || first.UsageMetadata != nil || first.Candidates[0].FinishReason != "" {
		t.Errorf("first event %+v", first)
	}
	fc := last.Candidates[0].Content.Parts[0].FunctionCall
	if fc == nil || fc.Name != "run_shell_command" || fc.Args["command"] != "ls" || fc.ID != "" {
		t.Errorf("call %+v", fc)
	}
	if u := last.UsageMetadata; u == nil || *u != (Usage{Prompt: 111, Candidates: 22, Cached: 11, Thoughts: 7, Total: 140}) {
		t.Errorf("usage %+v", u)
	}
	if last.Candidates[0].FinishReason != "STOP" || last.ModelVersion != "gemini-2.5-flash" || last.ResponseID == "" || last.ResponseID != first.ResponseID {
		t.Errorf("last event %+v (first id %s)", last, first.ResponseID)
	}

	_, body = post(t, s.URL()+streamPath, afterTool)
	evs = events(t, body)
	var text strings.Builder
	for _, e := range evs {
		text.WriteString(e.Candidates[0].Content.Parts[0].Text)
	}
	if len(evs) < 3 || text.String() != long || evs[len(evs)-1].UsageMetadata.Total != 210 {
		t.Errorf("after the tool result: %d events, text %q", len(evs), text.String())
	}
	if evs[0].ResponseID == last.ResponseID {
		t.Error("two answers share a response id")
	}

	calls := s.Calls()
	if len(calls) != 2 || calls[0].Req.TurnPrompt() != "List the files here" || calls[0].Req.Step() != 0 || calls[1].Req.Step() != 1 {
		t.Fatalf("calls %+v", calls)
	}
	if fr := calls[1].Req.FunctionResponses(); len(fr) != 1 || fr[0].Output() != "file_a.txt" {
		t.Errorf("function responses %+v", fr)
	}
	if !calls[0].Req.HasTool("run_shell_command") || calls[0].Header.Get("x-goog-api-key") != "k" || calls[0].Model != "gemini-2.5-flash" {
		t.Errorf("recorded request: tools %v, header %v, model %q", calls[0].Req.ToolNames(), calls[0].Header, calls[0].Model)
	}
	if u := s.Usage(); u.Prompt != 311 || u.Candidates != 32 || u.Cached != 61 || u.Thoughts != 7 || u.Total != 350 {
		t.Errorf("usage sum %+v", u)
	}
}

func TestByPromptAndReusedReplies(t *testing.T) {
	hi := Say("Hello.", Usage{Prompt: 5, Candidates: 1})
	s := Start(t, ByPrompt(PromptCase{Contains: "hello", Responder: Steps(hi)}))
	hello := `{"contents":[{"role":"user","parts":[{"text":"say hello"}]}]}`
	other := `{"contents":[{"role":"user","parts":[{"text":"something else"}]}]}`
	post(t, s.URL()+streamPath, hello)
	post(t, s.URL()+streamPath, hello)
	post(t, s.URL()+streamPath, other)
	got := s.Answered()
	if len(got) != 3 || got[0].Parts[0].Text != "Hello." || got[1].Parts[0].Text != "Hello." || got[2].Parts[0].Text != "Done." {
		t.Fatalf("answers %+v", got)
	}
	if got[0].ResponseID == got[1].ResponseID {
		t.Error("a reused Reply value got the same response id twice")
	}
}

func TestOtherEndpoints(t *testing.T) {
	s := Start(t, Steps(Reply{Status: 400, ErrorMessage: "bad"}))
	resp, body := post(t, s.URL()+"/v1beta/models/gemini-2.5-flash:generateContent", prompt)
	var e struct {
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
			Status  string `json:"status"`
		} `json:"error"`
	}
	if resp.StatusCode != 400 || json.Unmarshal(body, &e) != nil || e.Error.Status != "INVALID_ARGUMENT" || e.Error.Message != "bad" {
		t.Errorf("scripted error: %d %s", resp.StatusCode, body)
	}
	resp, body = post(t, s.URL()+"/v1beta/models/gemini-2.5-flash:countTokens", prompt)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"totalTokens"`) {
		t.Errorf("countTokens: %d %s", resp.StatusCode, body)
	}
	resp, _ = post(t, s.URL()+"/v1internal:loadCodeAssist", `{}`)
	if resp.StatusCode != 404 || len(s.Unknown()) != 1 {
		t.Errorf("unknown path: %d, noted %v", resp.StatusCode, s.Unknown())
	}
	if len(s.Answered()) != 0 || len(s.Calls()) != 1 {
		t.Errorf("an error is a call but not an answer: calls %d answered %d", len(s.Calls()), len(s.Answered()))
	}

	ok := Start(t, nil)
	resp, body = post(t, ok.URL()+"/v1beta/models/gemini-2.5-flash:generateContent", prompt)
	var r response
	if resp.StatusCode != 200 || json.Unmarshal(body, &r) != nil || r.Candidates[0].Content.Parts[0].Text != "Done." || r.UsageMetadata == nil {
		t.Errorf("generateContent: %d %s", resp.StatusCode, body)
	}
}

// The requests Gemini CLI 0.61.0 really sent (captured in the shared
// fixtures) decode, and the tool round is recognised.
func TestFixtureRequests(t *testing.T) {
	path := filepath.Join("..", "..", "..", "..", "shared", "fixtures", "gemini-0.61.0", "tool", "requests.jsonl")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("fixture absent: %v", err)
	}
	var reqs []*Request
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var rec struct {
			Path string  `json:"path"`
			Body Request `json:"body"`
		}
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatal(err)
		}
		if model, action, ok := splitPath(strings.Split(rec.Path, "?")[0]); !ok || model != "gemini-2.5-flash" || action != "streamGenerateContent" {
			t.Errorf("path %q", rec.Path)
		}
		reqs = append(reqs, &rec.Body)
	}
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	if reqs[0].TurnPrompt() != "List the files here" || reqs[0].Step() != 0 || !reqs[0].HasTool("run_shell_command") {
		t.Errorf("first request: prompt %q step %d tools %v", reqs[0].TurnPrompt(), reqs[0].Step(), reqs[0].ToolNames())
	}
	if reqs[1].TurnPrompt() != "List the files here" || reqs[1].Step() != 1 || !strings.Contains(reqs[1].FunctionResponses()[0].Output(), "file_a.txt") {
		t.Errorf("second request: prompt %q step %d", reqs[1].TurnPrompt(), reqs[1].Step())
	}
}
