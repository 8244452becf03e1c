package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/weave-agentd/weave-agentd/e2e/internal/agentd"
	"github.com/weave-agentd/weave-agentd/e2e/internal/claudecli"
	fa "github.com/weave-agentd/weave-agentd/e2e/internal/fakeanthropic"
	"github.com/weave-agentd/weave-agentd/e2e/internal/receiver"
	"github.com/weave-agentd/weave-agentd/genai"
)

// world is one isolated setup: the Collector's receiver, a daemon, a fake
// Anthropic API, and a project folder for the real Claude Code CLI.
type world struct {
	t   *testing.T
	rcv *receiver.Receiver
	h   *agentd.Home
	d   *agentd.Daemon
	api *fa.Server
	cwd string
}

func newWorld(t *testing.T, script fa.Script) *world {
	t.Helper()
	claudecli.Require(t)
	w := &world{t: t, rcv: receiver.Start(t), h: agentd.NewHome(t), cwd: t.TempDir()}
	w.h.WriteConfig("endpoint = \"" + w.rcv.URL() + "\"\n")
	w.d = w.h.StartDaemon()
	w.api = fa.Start(t, script)
	return w
}

func (w *world) claude(prompt, resume string) claudecli.Result {
	w.t.Helper()
	return claudeRun(w.t, w.h, w.api, w.cwd, prompt, resume)
}

func (w *world) flush() []receiver.Span {
	w.t.Helper()
	if r := w.h.CLI("flush", "--timeout", "60s"); r.Code != 0 {
		w.t.Fatalf("flush: %d %s%s\n%s", r.Code, r.Stdout, r.Stderr, w.d.Log())
	}
	return w.rcv.UniqueSpans()
}

// check asserts what every scenario must hold at the receiver: one
// conversation id, no span twice, every parent present, chat spans carrying
// exactly the usage the API sent for their message id (input incl. cache),
// and each turn's trace id derived from its promptId.
func (w *world) check(session string, spans []receiver.Span) {
	t := w.t
	t.Helper()
	assertNoDuplicates(t, w.rcv)
	byID := map[string]receiver.Span{}
	for _, s := range spans {
		byID[s.SpanID] = s
	}
	sent := map[string]fa.Usage{}
	for _, e := range w.api.Calls() {
		if e.Reply != nil && e.Reply.Status < 400 {
			sent[e.Reply.ID] = e.Reply.Usage
		}
	}
	for _, s := range spans {
		if got := s.Attr("gen_ai.conversation.id"); got != session {
			t.Errorf("%s: conversation id %q, want %q", s.Name, got, session)
		}
		if s.ParentSpanID != "" {
			if _, ok := byID[s.ParentSpanID]; !ok {
				t.Errorf("%s [%s]: parent %s never arrived", s.Name, s.SpanID, s.ParentSpanID)
			}
		}
		if s.Attr("gen_ai.operation.name") == "chat" && s.Attr("claude_code.compaction.call") != "true" {
			// (A compaction call's response is not in the transcript:
			// checkCompaction compares its usage with the API's.)
			u, ok := sent[s.Attr("gen_ai.response.id")]
			if !ok {
				t.Errorf("chat span %s: response id %q was not sent by the API", s.SpanID, s.Attr("gen_ai.response.id"))
				continue
			}
			if got, want := s.Int("gen_ai.usage.output_tokens"), int64(u.OutputTokens); got != want {
				t.Errorf("chat %s output tokens %d, want %d", s.Attr("gen_ai.response.id"), got, want)
			}
			if got, want := s.Int("gen_ai.usage.input_tokens"), int64(u.InputTokens+u.CacheReadInputTokens+u.CacheCreationInputTokens); got != want {
				t.Errorf("chat %s input tokens %d, want %d (incl. cache)", s.Attr("gen_ai.response.id"), got, want)
			}
		}
	}
	for _, turn := range receiver.ByName(spans, "invoke_agent claude-code") {
		if turn.ParentSpanID != "" {
			t.Errorf("turn %s has a parent", turn.SpanID)
		}
	}
}

// promptIDs reads the promptIds of the transcript's user prompts, in order.
func promptIDs(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ids []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var rec struct {
			Type      string `json:"type"`
			PromptID  string `json:"promptId"`
			Sidechain bool   `json:"isSidechain"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Type == "user" && rec.PromptID != "" && !rec.Sidechain && !seen[rec.PromptID] {
			seen[rec.PromptID] = true
			ids = append(ids, rec.PromptID)
		}
	}
	return ids
}

func TestClaudeScenarios(t *testing.T) {
	t.Run("plain answer with derived ids", func(t *testing.T) {
		t.Parallel()
		u := fa.Usage{InputTokens: 1200, OutputTokens: 35, CacheReadInputTokens: 4000, CacheCreationInputTokens: 800}
		w := newWorld(t, fa.Script{Main: fa.Steps(fa.Reply{Parts: []fa.Part{fa.Thinking("Greet."), fa.Text("Hello.")}, Usage: u})})
		res := w.claude("say hello", "")
		spans := w.flush()
		w.check(res.SessionID, spans)
		turns := receiver.ByName(spans, "invoke_agent claude-code")
		if len(turns) != 1 || len(spans) != 2 {
			t.Fatalf("want a turn and a chat span, got %v", names(spans))
		}
		pids := promptIDs(t, res.TranscriptPath)
		if len(pids) != 1 {
			t.Fatalf("prompt ids %v", pids)
		}
		tid := genai.NewTraceID(genai.AgentClaudeCode, res.SessionID, pids[0])
		if turns[0].TraceID != tid.String() || turns[0].SpanID != genai.NewSpanID(tid, genai.KindTurn, "turn").String() {
			t.Errorf("turn ids %s/%s, want derived %s/%s", turns[0].TraceID, turns[0].SpanID, tid, genai.NewSpanID(tid, genai.KindTurn, "turn"))
		}
		if turns[0].StatusCode == "Error" {
			t.Errorf("plain turn has error status: %s", turns[0].StatusMessage)
		}
		if !strings.Contains(turns[0].Attr("gen_ai.output.messages"), "Hello.") || !strings.Contains(turns[0].Attr("gen_ai.input.messages"), "say hello") {
			t.Errorf("turn messages: in=%s out=%s", turns[0].Attr("gen_ai.input.messages"), turns[0].Attr("gen_ai.output.messages"))
		}
	})

	t.Run("failing tool", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, fa.Script{Main: fa.Steps(
			fa.Reply{Parts: []fa.Part{fa.Bash("echo about-to-fail >&2; exit 1", "Fail on purpose")}, Usage: fa.Usage{InputTokens: 100, OutputTokens: 10}},
			fa.Say("It failed.", fa.Usage{InputTokens: 90, OutputTokens: 11}),
		)})
		res := w.claude("run a failing command", "")
		spans := w.flush()
		w.check(res.SessionID, spans)
		tools := receiver.ByName(spans, "execute_tool Bash")
		if len(tools) != 1 || tools[0].StatusCode != "Error" || tools[0].Attr("error.type") == "" {
			t.Fatalf("failing tool span: %+v", tools)
		}
		if !strings.Contains(tools[0].Attr("gen_ai.tool.call.result")+tools[0].StatusMessage, "about-to-fail") {
			t.Errorf("tool error output missing: result=%q status=%q", tools[0].Attr("gen_ai.tool.call.result"), tools[0].StatusMessage)
		}
	})

	t.Run("parallel tool calls", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, fa.Script{Main: fa.Steps(
			fa.Reply{Parts: []fa.Part{fa.Text("Both at once."), fa.Bash("echo parallel-one", "First"), fa.Bash("echo parallel-two", "Second")},
				Usage: fa.Usage{InputTokens: 300, OutputTokens: 60}},
			fa.Say("Both ran.", fa.Usage{InputTokens: 120, OutputTokens: 4}),
		)})
		res := w.claude("run two commands in parallel", "")
		spans := w.flush()
		w.check(res.SessionID, spans)
		tools := receiver.ByName(spans, "execute_tool Bash")
		if len(tools) != 2 || tools[0].ParentSpanID != tools[1].ParentSpanID {
			t.Fatalf("want two sibling Bash spans, got %v", names(spans))
		}
		// Usage is on the chat spans only: a backend sums the trace.
		if u := backendUsage(spans)[res.SessionID]; u.Out != 64 || u.In != 420 {
			t.Errorf("usage over the spans in=%d out=%d, want 420/64", u.In, u.Out)
		}
	})

	t.Run("background subagent", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, fa.BackgroundSubagent())
		res := w.claude("delegate an echo to a subagent", "")
		spans := w.flush()
		w.check(res.SessionID, spans)
		subs := receiver.ByName(spans, "invoke_agent general-purpose")
		agentTools := receiver.ByName(spans, "execute_tool Agent")
		if len(subs) != 1 || len(agentTools) != 1 {
			t.Fatalf("want one subagent under one Agent tool span, got %v", names(spans))
		}
		if subs[0].ParentSpanID != agentTools[0].SpanID || subs[0].TraceID != agentTools[0].TraceID {
			t.Errorf("subagent parent %s, want the Agent tool span %s", subs[0].ParentSpanID, agentTools[0].SpanID)
		}
		if subs[0].Attr("gen_ai.agent.id") == "" {
			t.Error("subagent span without gen_ai.agent.id")
		}
		inside := receiver.Children(spans, subs[0])
		if len(receiver.ByName(inside, "execute_tool Bash")) != 1 || len(receiver.ByName(inside, "chat "+subs[0].Attr("gen_ai.request.model"))) == 0 {
			t.Errorf("subagent children: %v", names(inside))
		}
	})

	t.Run("resumed second turn and compaction", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, fa.Script{
			Main: fa.TwoQuestions(),
			Compact: func(*fa.Call) fa.Reply {
				return fa.Say("<analysis>short</analysis>\n<summary>\n1. Primary Request and Intent: two questions.\n</summary>",
					fa.Usage{InputTokens: 2200, OutputTokens: 60, CacheReadInputTokens: 1800})
			},
		})
		r1 := w.claude("first question", "")
		r2 := w.claude("second question", r1.SessionID)
		w.claude("/compact", r1.SessionID)
		if r2.SessionID != r1.SessionID {
			t.Fatalf("resume changed the session: %s -> %s", r1.SessionID, r2.SessionID)
		}
		spans := w.flush()
		w.check(r1.SessionID, spans)
		turns := receiver.ByName(spans, "invoke_agent claude-code")
		if len(turns) < 2 {
			t.Fatalf("want the two turns (and the compaction's), got %v", names(spans))
		}
		traces := map[string]bool{}
		for _, tr := range turns {
			traces[tr.TraceID] = true
		}
		if len(traces) != len(turns) {
			t.Errorf("turns share a trace: %d turns, %d traces", len(turns), len(traces))
		}
		compacted := false
		for _, tr := range turns {
			for _, ev := range tr.Events {
				if strings.Contains(ev.Name, "compact") {
					compacted = true
				}
			}
		}
		if !compacted {
			t.Errorf("no compaction visible on any turn")
		}
	})
}

// A daemon crash mid-session (SIGKILL), a second turn while it is down
// (hooks journal to the inbox), a restart and a backfill of the same file:
// every span arrives exactly once.
func TestClaudeRestartMidSessionNoDuplicates(t *testing.T) {
	w := newWorld(t, fa.Script{Main: fa.ByPrompt(
		fa.PromptCase{Contains: "turn one", Responder: fa.Steps(
			fa.Reply{Parts: []fa.Part{fa.Bash("echo one", "One")}, Usage: fa.Usage{InputTokens: 10, OutputTokens: 1}},
			fa.Say("One.", fa.Usage{InputTokens: 12, OutputTokens: 1}))},
		fa.PromptCase{Contains: "turn two", Responder: fa.Steps(fa.Say("Two.", fa.Usage{InputTokens: 20, OutputTokens: 2}))},
	)})
	r1 := w.claude("turn one", "")
	w.flush()
	before := len(w.rcv.Spans())
	w.d.Kill()
	r2 := w.claude("turn two", r1.SessionID)
	w.d = w.h.StartDaemon()
	w.flush()
	if r := w.h.CLI("backfill", fmt.Sprint(r2.TranscriptPath)); r.Code != 0 {
		t.Fatalf("backfill: %s%s", r.Stdout, r.Stderr)
	}
	spans := w.flush()
	w.check(r1.SessionID, spans)
	if len(receiver.ByName(spans, "invoke_agent claude-code")) != 2 || len(w.rcv.Spans()) <= before {
		t.Fatalf("after restart: %v", names(spans))
	}
	assertNoDuplicates(t, w.rcv)
}
