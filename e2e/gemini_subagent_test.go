package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	fg "github.com/weave-agentd/weave-agentd/e2e/internal/fakegemini"
	"github.com/weave-agentd/weave-agentd/e2e/internal/geminicli"
	"github.com/weave-agentd/weave-agentd/e2e/internal/genaischema"
	"github.com/weave-agentd/weave-agentd/e2e/internal/receiver"
)

// A real Gemini CLI turn that delegates to its built-in "generalist"
// subagent (invoke_agent): the subagent's own chat file
// (chats/<session>/<agentId>.jsonl) reaches the Collector as an
// invoke_agent span under the launching tool call's span, with its model
// and tool calls inside, and every model call's usage exactly once.
func TestRealGeminiCLISubagent(t *testing.T) {
	t.Parallel()
	w := newGeminiWorld(t, func(c *fg.ModelCall) fg.Reply {
		if c.Req.HasTool("complete_task") { // the subagent's calls
			if c.Req.Step() == 0 {
				return fg.Reply{Parts: []fg.Part{fg.Shell("echo sub-marker")}, Usage: fg.Usage{Prompt: 300, Candidates: 5, Cached: 100}}
			}
			return fg.Reply{Parts: []fg.Part{fg.Call("complete_task", map[string]any{"result": map[string]any{"response": "sub result"}})},
				Usage: fg.Usage{Prompt: 400, Candidates: 6, Thoughts: 2}}
		}
		if c.Req.Step() == 0 {
			return fg.Reply{Parts: []fg.Part{fg.Call("invoke_agent", map[string]any{"agent_name": "generalist", "prompt": "do the sub task"})},
				Usage: fg.Usage{Prompt: 100, Candidates: 3}}
		}
		return fg.Say("parent done", fg.Usage{Prompt: 200, Candidates: 4, Cached: 50})
	})
	res := w.gemini("delegate it", "", false)
	spans := w.flush()
	assertNoDuplicates(t, w.rcv)

	tr, err := geminicli.ReadTranscript(res.TranscriptPath)
	if err != nil {
		t.Fatal(err)
	}
	var callID string
	for _, tc := range tr.ToolCalls() {
		if tc.Name == "invoke_agent" {
			callID = tc.ID
		}
	}
	subFiles, _ := filepath.Glob(filepath.Join(filepath.Dir(res.TranscriptPath), res.SessionID, "*.jsonl"))
	if len(subFiles) != 1 || callID == "" {
		t.Fatalf("invoke_agent call %q, subagent chat files %v", callID, subFiles)
	}
	agentID := strings.TrimSuffix(filepath.Base(subFiles[0]), ".jsonl")
	sub, err := geminicli.ReadTranscript(subFiles[0])
	if err != nil {
		t.Fatal(err)
	}

	tools := receiver.ByName(spans, "execute_tool invoke_agent")
	agents := receiver.ByName(spans, "invoke_agent generalist")
	if len(tools) != 1 || len(agents) != 1 {
		t.Fatalf("want one invoke_agent tool span and one subagent span: %v", names(spans))
	}
	a := agents[0]
	if a.ParentSpanID != tools[0].SpanID || a.TraceID != tools[0].TraceID || a.Attr("gen_ai.agent.id") != agentID ||
		a.Attr("gen_ai.tool.call.id") != callID || a.Attr("gen_ai.conversation.id") != res.SessionID {
		t.Errorf("subagent span %s parent %s (tool %s) attrs %v", a.SpanID, a.ParentSpanID, tools[0].SpanID, a.Attributes)
	}
	if !strings.Contains(a.Attr("gen_ai.input.messages"), "do the sub task") || !strings.Contains(a.Attr("gen_ai.output.messages"), "sub result") {
		t.Errorf("subagent messages in=%s out=%s", a.Attr("gen_ai.input.messages"), a.Attr("gen_ai.output.messages"))
	}
	// Each of the subagent's model messages is one chat span under it.
	inside := map[string]int{}
	for _, s := range spans {
		if s.ParentSpanID == a.SpanID {
			inside[s.Attr("gen_ai.response.id")+s.Attr("gen_ai.tool.call.id")]++
			if s.Attr("gen_ai.agent.name") != "generalist" {
				t.Errorf("%s inside the subagent: agent name %q", s.Name, s.Attr("gen_ai.agent.name"))
			}
		}
	}
	for _, m := range sub.Gemini() {
		if inside[m.ID] != 1 {
			t.Errorf("subagent model message %s: %d chat spans under the subagent", m.ID, inside[m.ID])
		}
	}
	if len(sub.Gemini()) != 2 || len(receiver.ByName(spans, "execute_tool run_shell_command")) != 1 {
		t.Errorf("subagent messages %d, spans %v", len(sub.Gemini()), names(spans))
	}
	// Usage over the conversation = every call the API answered, once.
	var in, out, cached int64
	for _, r := range w.api.Answered() {
		in, out, cached = in+int64(r.Usage.Prompt), out+int64(r.Usage.Candidates+r.Usage.Thoughts), cached+int64(r.Usage.Cached)
	}
	if len(w.api.Answered()) != 4 {
		t.Errorf("the API answered %d calls, want 4", len(w.api.Answered()))
	}
	if u := backendUsage(spans)[res.SessionID]; u.In != in || u.Out != out || u.CacheRead != cached {
		t.Errorf("usage over the spans in=%d out=%d cache_read=%d, the API sent %d/%d/%d", u.In, u.Out, u.CacheRead, in, out, cached)
	}
	genaischema.Load(t).Spans(t, spans, 64<<10)
}
