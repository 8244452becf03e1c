package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/e2e/internal/agentd"
	fg "github.com/weave-agentd/weave-agentd/e2e/internal/fakegemini"
	"github.com/weave-agentd/weave-agentd/e2e/internal/geminicli"
	"github.com/weave-agentd/weave-agentd/e2e/internal/genaischema"
	"github.com/weave-agentd/weave-agentd/e2e/internal/receiver"
	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/hooks/hookconfig"
)

// geminiWorld is the real Gemini CLI against a stand-in Gemini API, its hooks
// (as weave-agentd registers them) calling our real hook binary, the real
// daemon tailing its session file, and the Collector's receiver at the end.
type geminiWorld struct {
	t     *testing.T
	bin   string
	rcv   *receiver.Receiver
	h     *agentd.Home
	d     *agentd.Daemon
	api   *fg.Server
	cwd   string
	hooks any // settings.json "hooks" as hookconfig writes it
}

// registeredHooks is the "hooks" value hookconfig.Install writes into a
// Gemini CLI settings.json for h's hook binary and home.
func registeredHooks(t *testing.T, h *agentd.Home) any {
	t.Helper()
	path := filepath.Join(t.TempDir(), "settings.json")
	spec := hookconfig.Spec{HookBinary: filepath.Join(h.Bin, "weave-agentd-hook"), Env: map[string]string{"WEAVE_AGENTD_HOME": h.Dir}}
	if _, err := hookconfig.Install(path, hookconfig.Gemini, spec); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var settings map[string]any
	if err := json.Unmarshal(b, &settings); err != nil {
		t.Fatal(err)
	}
	return settings["hooks"]
}

func newGeminiWorld(t *testing.T, respond fg.Responder) *geminiWorld {
	t.Helper()
	w := &geminiWorld{t: t, bin: geminicli.Require(t), rcv: receiver.Start(t), h: agentd.NewHome(t)}
	w.cwd = filepath.Join(w.h.HOME, "project")
	w.h.WriteConfig("endpoint = \"" + w.rcv.URL() + "\"\n")
	w.d = w.h.StartDaemon()
	w.api = fg.Start(t, respond)
	w.hooks = registeredHooks(t, w.h)
	return w
}

// gemini runs one headless turn: a new session (with id when given) or,
// with resume, the latest one of the project.
func (w *geminiWorld) gemini(prompt, session string, resume bool) geminicli.Result {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o := geminicli.Options{Bin: w.bin, Home: w.h.HOME, Cwd: w.cwd, BaseURL: w.api.URL(), Prompt: prompt, SessionID: session,
		Settings: map[string]any{"hooks": w.hooks}}
	if resume {
		o.Resume = "latest"
	}
	res, err := geminicli.Run(ctx, o)
	if err != nil {
		w.t.Fatalf("%v\nstdout: %s\nstderr: %s", err, res.Stdout, res.Stderr)
	}
	if res.TranscriptPath == "" {
		w.t.Fatalf("no session file for %s", res.SessionID)
	}
	w.t.Logf("gemini %v: %v", res.Args, res.Duration)
	return res
}

func (w *geminiWorld) flush() []receiver.Span {
	w.t.Helper()
	if r := w.h.CLI("flush", "--timeout", "60s"); r.Code != 0 {
		w.t.Fatalf("flush: %d %s%s\n%s", r.Code, r.Stdout, r.Stderr, w.d.Log())
	}
	return w.rcv.UniqueSpans()
}

// check asserts what every Gemini run must hold at the receiver: nothing
// twice, one conversation, every parent present, one turn per prompt with a
// derived trace id, and per model message of the session file exactly one
// chat span whose usage is that message's tokens (= what the API sent), per
// tool call exactly one execute_tool span.
func (w *geminiWorld) check(res geminicli.Result, spans []receiver.Span) {
	t := w.t
	t.Helper()
	assertNoDuplicates(t, w.rcv)
	tr, err := geminicli.ReadTranscript(res.TranscriptPath)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]receiver.Span{}
	chats := map[string][]receiver.Span{}
	tools := map[string][]receiver.Span{}
	var turns []receiver.Span
	for _, s := range spans {
		byID[s.SpanID] = s
	}
	for _, s := range spans {
		if got := s.Attr("gen_ai.conversation.id"); got != res.SessionID {
			t.Errorf("%s: conversation id %q, want %q", s.Name, got, res.SessionID)
		}
		if s.Attr("gen_ai.agent.name") != "gemini-cli" {
			t.Errorf("%s: agent name %q", s.Name, s.Attr("gen_ai.agent.name"))
		}
		if p, ok := byID[s.ParentSpanID]; s.ParentSpanID != "" && (!ok || p.TraceID != s.TraceID) {
			t.Errorf("%s [%s]: parent %s not received in its trace", s.Name, s.SpanID, s.ParentSpanID)
		}
		switch s.Attr("gen_ai.operation.name") {
		case "chat":
			chats[s.Attr("gen_ai.response.id")] = append(chats[s.Attr("gen_ai.response.id")], s)
		case "execute_tool":
			tools[s.Attr("gen_ai.tool.call.id")] = append(tools[s.Attr("gen_ai.tool.call.id")], s)
		case "invoke_agent":
			turns = append(turns, s)
		default:
			t.Errorf("unexpected span %s", s.Name)
		}
	}

	// One turn per prompt, ids derived from the prompt's record id.
	var prompts []string
	for _, m := range tr.Messages {
		if m.Type == "user" && !strings.HasPrefix(m.Text(), "<session_context>") && m.Text() != "" {
			prompts = append(prompts, m.ID)
		}
	}
	if len(turns) != len(prompts) {
		t.Errorf("%d turn spans, the session file has %d prompts", len(turns), len(prompts))
	}
	for _, key := range prompts {
		tid := genai.NewTraceID(genai.AgentGeminiCLI, res.SessionID, key)
		found := false
		for _, s := range turns {
			if s.TraceID == tid.String() {
				found = s.SpanID == genai.NewSpanID(tid, genai.KindTurn, "turn").String() && s.ParentSpanID == ""
			}
		}
		if !found {
			t.Errorf("no root turn span with the trace id derived from prompt %s", key)
		}
	}

	// The session file's model messages and the API's answers agree one to one.
	msgs := tr.Gemini()
	sent := w.api.Answered()
	if len(msgs) != len(sent) {
		t.Errorf("%d model messages in the session file, the API answered %d", len(msgs), len(sent))
	}
	var in, out, cached int64
	for i, m := range msgs {
		if i < len(sent) {
			u := sent[i].Usage
			if m.Tokens == nil || m.Tokens.Input != u.Prompt || m.Tokens.Output != u.Candidates || m.Tokens.Thoughts != u.Thoughts || m.Tokens.Cached != u.Cached {
				t.Errorf("model message %s tokens %+v, the API sent %+v", m.ID, m.Tokens, u)
			}
			in, out, cached = in+int64(u.Prompt), out+int64(u.Candidates+u.Thoughts), cached+int64(u.Cached)
		}
		cs := chats[m.ID]
		if len(cs) != 1 {
			t.Errorf("model message %s: %d chat spans, want exactly 1", m.ID, len(cs))
			continue
		}
		c, tok := cs[0], m.Tokens
		if tok == nil {
			continue
		}
		if got, want := c.Int("gen_ai.usage.input_tokens"), int64(tok.Input+tok.Tool); got != want {
			t.Errorf("chat %s input tokens %d, want %d", m.ID, got, want)
		}
		if got, want := c.Int("gen_ai.usage.output_tokens"), int64(tok.Output+tok.Thoughts); got != want {
			t.Errorf("chat %s output tokens %d, want %d (candidates + thoughts)", m.ID, got, want)
		}
		if got, want := c.Int("gen_ai.usage.cache_read.input_tokens"), int64(tok.Cached); got != want {
			t.Errorf("chat %s cache read %d, want %d", m.ID, got, want)
		}
		if c.Attr("gen_ai.request.model") != m.Model || c.Name != "chat "+m.Model {
			t.Errorf("chat %s: name %q model %q, want %q", m.ID, c.Name, c.Attr("gen_ai.request.model"), m.Model)
		}
	}
	if len(chats) != len(msgs) {
		t.Errorf("%d chat spans for %d model messages", len(chats), len(msgs))
	}
	// Usage as a backend sums it over the conversation = what the API sent.
	if u := backendUsage(spans)[res.SessionID]; u.In != in || u.Out != out || u.CacheRead != cached {
		t.Errorf("usage over the spans in=%d out=%d cache_read=%d, the API sent %d/%d/%d", u.In, u.Out, u.CacheRead, in, out, cached)
	}

	calls := tr.ToolCalls()
	for _, tc := range calls {
		ts := tools[tc.ID]
		if len(ts) != 1 {
			t.Errorf("tool call %s: %d execute_tool spans, want exactly 1", tc.ID, len(ts))
			continue
		}
		var args map[string]any
		if err := json.Unmarshal([]byte(ts[0].Attr("gen_ai.tool.call.arguments")), &args); err != nil || ts[0].Name != "execute_tool "+tc.Name || !reflect.DeepEqual(args, tc.Args) {
			t.Errorf("tool span %s: %s args %s, want %v", tc.ID, ts[0].Name, ts[0].Attr("gen_ai.tool.call.arguments"), tc.Args)
		}
	}
	if len(tools) != len(calls) {
		t.Errorf("%d execute_tool spans for %d tool calls", len(tools), len(calls))
	}
	t.Run("GenAI JSON attributes match the schemas", func(t *testing.T) {
		genaischema.Load(t).Spans(t, spans, 64<<10)
	})
}

// Every turn of a real Gemini CLI session (a tool call that runs longer than
// the daemon waits for a final answer, a failing tool call, a resumed text
// turn) reaches the Collector with its spans exactly once and its answer.
func TestRealGeminiCLITurnsReachCollector(t *testing.T) {
	t.Parallel()
	w := newGeminiWorld(t, fg.ByPrompt(
		fg.PromptCase{Contains: "list", Responder: fg.Steps(
			fg.Reply{Parts: []fg.Part{fg.Thought("**Listing** I should run ls."), fg.Shell("sleep 3; echo weave-e2e-marker")},
				Usage: fg.Usage{Prompt: 1200, Candidates: 30, Cached: 400, Thoughts: 12}},
			fg.Say("It printed weave-e2e-marker.", fg.Usage{Prompt: 1300, Candidates: 8, Cached: 1100}),
		)},
		fg.PromptCase{Contains: "fail", Responder: fg.Steps(
			fg.Reply{Parts: []fg.Part{fg.Shell("echo about-to-fail >&2; exit 3")}, Usage: fg.Usage{Prompt: 1500, Candidates: 15}},
			fg.Say("It failed.", fg.Usage{Prompt: 1600, Candidates: 4, Cached: 1400}),
		)},
		fg.PromptCase{Contains: "thanks", Responder: fg.Steps(fg.Say("You are welcome.", fg.Usage{Prompt: 1700, Candidates: 5, Cached: 1500}))},
	))
	r1 := w.gemini("list with echo", "", false)
	w.gemini("now fail on purpose", "", true)
	r3 := w.gemini("thanks", "", true)
	if r3.SessionID != r1.SessionID || r3.TranscriptPath != r1.TranscriptPath {
		t.Fatalf("resume changed the session: %s %s -> %s %s", r1.SessionID, r1.TranscriptPath, r3.SessionID, r3.TranscriptPath)
	}
	spans := w.flush()
	w.check(r3, spans)

	turns := receiver.ByName(spans, "invoke_agent gemini-cli")
	var first receiver.Span
	for _, s := range turns {
		if strings.Contains(s.Attr("gen_ai.input.messages"), "list with echo") {
			first = s
		}
	}
	if !strings.Contains(first.Attr("gen_ai.output.messages"), "It printed weave-e2e-marker.") || first.StatusCode == "Error" {
		t.Errorf("first turn: out=%s status=%s", first.Attr("gen_ai.output.messages"), first.StatusCode)
		for _, s := range turns {
			t.Logf("turn %s [%s .. %s] attrs=%v", s.SpanID, s.Start, s.End, s.Attributes)
		}
		t.Logf("daemon log:\n%s", w.d.Log())
	}
	if got := first.Resource["service.name"]; got != "gemini-cli" {
		t.Errorf("resource %v", first.Resource)
	}
	for _, s := range receiver.ByName(spans, "execute_tool run_shell_command") {
		res := s.Attr("gen_ai.tool.call.result")
		if strings.Contains(res, "about-to-fail") {
			// Gemini records a non-zero exit as status "success" with
			// "Exit Code: 3" in the output; the span is an error.
			if !strings.Contains(res, "Exit Code: 3") {
				t.Errorf("failing tool result %q", res)
			}
			if s.StatusCode != "Error" || s.Attr("error.type") != "tool_error" || s.Attr("gemini.tool.exit_code") != "3" {
				t.Errorf("failing tool span: status %q error.type %q exit code %q", s.StatusCode, s.Attr("error.type"), s.Attr("gemini.tool.exit_code"))
			}
		} else if !strings.Contains(res, "weave-e2e-marker") {
			t.Errorf("tool result %q", res)
		}
	}
	st, code := w.h.Status()
	if code != 0 {
		t.Fatalf("status exit %d: %v", code, st)
	}
	if c, _ := st["counters"].(map[string]any); c["events"].(float64) < 16 {
		t.Errorf("hook events stored = %v, want the real hooks of the three runs", c["events"])
	}
}

// A daemon crash after the first turn, a resumed turn while it is down (its
// hooks journal to the inbox), a restart, a third turn with the new daemon
// and a backfill of the same file: every span arrives exactly once.
func TestRealGeminiCLIRestartMidSession(t *testing.T) {
	t.Parallel()
	w := newGeminiWorld(t, fg.ByPrompt(
		fg.PromptCase{Contains: "one", Responder: fg.Steps(
			fg.Reply{Parts: []fg.Part{fg.Shell("echo one")}, Usage: fg.Usage{Prompt: 100, Candidates: 10, Thoughts: 3}},
			fg.Say("One.", fg.Usage{Prompt: 120, Candidates: 2, Cached: 100}))},
		fg.PromptCase{Contains: "two", Responder: fg.Steps(
			fg.Reply{Parts: []fg.Part{fg.Shell("echo two")}, Usage: fg.Usage{Prompt: 200, Candidates: 11}},
			fg.Say("Two.", fg.Usage{Prompt: 220, Candidates: 2, Cached: 200}))},
		fg.PromptCase{Contains: "three", Responder: fg.Steps(fg.Say("Three.", fg.Usage{Prompt: 300, Candidates: 3, Cached: 250}))},
	))
	const id = "5b0f3c8e-2d7a-4e61-8f3b-9c1d2e4a6b70"
	r1 := w.gemini("turn one", id, false)
	w.flush()
	before := len(w.rcv.Spans())
	w.d.Kill()
	w.gemini("turn two", "", true)
	w.d = w.h.StartDaemon()
	w.flush()
	r3 := w.gemini("turn three", "", true)
	if r3.SessionID != id || r1.SessionID != id {
		t.Fatalf("session ids %s, %s", r1.SessionID, r3.SessionID)
	}
	w.flush()
	if r := w.h.CLI("backfill", r3.TranscriptPath); r.Code != 0 {
		t.Fatalf("backfill: %s%s", r.Stdout, r.Stderr)
	}
	spans := w.flush()
	w.check(r3, spans)
	if len(receiver.ByName(spans, "invoke_agent gemini-cli")) != 3 || len(w.rcv.Spans()) <= before {
		t.Fatalf("after the restart: %v", names(spans))
	}
}
