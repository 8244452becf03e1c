package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/e2e/internal/agentd"
	"github.com/weave-agentd/weave-agentd/e2e/internal/codexcli"
	oa "github.com/weave-agentd/weave-agentd/e2e/internal/fakeopenai"
	"github.com/weave-agentd/weave-agentd/e2e/internal/genaischema"
	"github.com/weave-agentd/weave-agentd/e2e/internal/receiver"
	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/hooks/hookconfig"
)

// codexWorld is the real Codex CLI, offline against the Responses API
// stand-in, whose hooks call the real hook binary (`weave-agentd-hook
// codex`), a real daemon tailing Codex's rollout, and the Collector's
// receiver.
type codexWorld struct {
	t   *testing.T
	rcv *receiver.Receiver
	h   *agentd.Home
	d   *agentd.Daemon
	api *oa.Server
	o   codexcli.Options
	// started is when the world was made: no span of it starts earlier.
	started time.Time
}

// newCodexWorld starts it all; config lines are added to the daemon's config.
func newCodexWorld(t *testing.T, respond oa.Responder, config ...string) *codexWorld {
	t.Helper()
	bin := codexcli.Require(t)
	w := &codexWorld{t: t, rcv: receiver.Start(t), h: agentd.NewHome(t), api: oa.Start(t, respond), started: time.Now()}
	home := codexcli.NewHome(t)
	// The daemon finds Codex's home the way a user's would: CODEX_HOME.
	w.h.Env = append(w.h.Env, "CODEX_HOME="+codexcli.CodexHome(home))
	w.h.WriteConfig("endpoint = \"" + w.rcv.URL() + "\"\n" + strings.Join(config, "\n") + "\n")
	w.d = w.h.StartDaemon()
	// The hooks as `weave-agentd hooks install --codex` writes them: the
	// command names the agent (weave-agentd-hook codex), WEAVE_AGENTD_HOME
	// assigned in it.
	if _, err := hookconfig.Install(filepath.Join(codexcli.CodexHome(home), "hooks.json"), hookconfig.Codex,
		hookconfig.Spec{HookBinary: filepath.Join(w.h.Bin, "weave-agentd-hook"), Env: map[string]string{"WEAVE_AGENTD_HOME": w.h.Dir}}); err != nil {
		t.Fatal(err)
	}
	w.o = codexcli.Options{Bin: bin, Home: home, Cwd: filepath.Join(home, "project"), BaseURL: w.api.BaseURL()}
	return w
}

// codex runs one prompt (resume: "", "last" or a session id).
func (w *codexWorld) codex(prompt, resume string) codexcli.Result {
	w.t.Helper()
	o := w.o
	o.Prompt, o.Resume = prompt, resume
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := codexcli.Run(ctx, o)
	if err != nil {
		w.t.Fatalf("%v", err)
	}
	if res.SessionID == "" || res.RolloutPath == "" || res.Usage == nil {
		w.t.Fatalf("codex %q: session %q rollout %q usage %v\nstdout: %s\nstderr: %s", prompt, res.SessionID, res.RolloutPath, res.Usage, res.Stdout, res.Stderr)
	}
	return res
}

func (w *codexWorld) flush() []receiver.Span {
	w.t.Helper()
	if r := w.h.CLI("flush", "--timeout", "60s"); r.Code != 0 {
		w.t.Fatalf("flush: %d %s%s\n%s", r.Code, r.Stdout, r.Stderr, w.d.Log())
	}
	return w.rcv.UniqueSpans()
}

// wantEvents checks that the daemon stored n hook events: Codex's hooks
// reached it through the real hook binary.
func (w *codexWorld) wantEvents(n int) {
	w.t.Helper()
	st, code := w.h.Status()
	c, _ := st["counters"].(map[string]any)
	if got, _ := c["events"].(float64); code != 0 || int(got) != n {
		w.t.Errorf("daemon stored %v hook events (status exit %d), want %d", c["events"], code, n)
	}
}

// check asserts the DESIGN.md schema against Codex's own rollout: per turn
// one `invoke_agent codex` span (derived ids, no usage); per
// token_usage_record one chat span under it with exactly that usage; per
// function call one execute_tool span (error status on a non-zero exit);
// nothing else, nothing twice, every parent present, one conversation.
func (w *codexWorld) check(res codexcli.Result, spans []receiver.Span) *codexcli.Rollout {
	t := w.t
	t.Helper()
	assertNoDuplicates(t, w.rcv)
	ro, err := codexcli.ReadRollout(res.RolloutPath)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]receiver.Span{}
	for _, s := range spans {
		byID[s.SpanID] = s
		if s.Attr("gen_ai.conversation.id") != res.SessionID || s.Attr("gen_ai.agent.name") != "codex" {
			t.Errorf("%s: conversation %q agent %q", s.Name, s.Attr("gen_ai.conversation.id"), s.Attr("gen_ai.agent.name"))
		}
		if s.Resource["service.name"] != "codex" || s.Resource["service.version"] != codexcli.Version {
			t.Errorf("%s: resource %v", s.Name, s.Resource)
		}
	}
	for _, s := range spans {
		if _, ok := byID[s.ParentSpanID]; s.ParentSpanID != "" && !ok {
			t.Errorf("%s [%s]: parent %s never arrived", s.Name, s.SpanID, s.ParentSpanID)
		}
	}
	find := func(op, key, val string) []receiver.Span {
		var out []receiver.Span
		for _, s := range spans {
			if s.Attr("gen_ai.operation.name") == op && (key == "" || s.Attr(key) == val) {
				out = append(out, s)
			}
		}
		return out
	}
	turnSpan := map[string]receiver.Span{}
	for _, id := range ro.Turns {
		ts := find("invoke_agent", "codex.turn.id", id)
		if len(ts) != 1 {
			t.Errorf("turn %s: %d invoke_agent spans", id, len(ts))
			continue
		}
		tr := ts[0]
		turnSpan[id] = tr
		trace := genai.NewTraceID(genai.AgentCodex, res.SessionID, id)
		if tr.Name != "invoke_agent codex" || tr.ParentSpanID != "" || tr.TraceID != trace.String() || tr.SpanID != genai.NewSpanID(trace, genai.KindTurn, "turn").String() {
			t.Errorf("turn %s: %q parent %q ids %s/%s, want derived %s", id, tr.Name, tr.ParentSpanID, tr.TraceID, tr.SpanID, trace)
		}
		if tr.Start.Before(w.started) || tr.End.After(time.Now()) || tr.End.Before(tr.Start) {
			t.Errorf("turn %s: %v..%v, outside the test's run from %v", id, tr.Start, tr.End, w.started)
		}
		if tr.Attr("gen_ai.request.model") != codexcli.Model || tr.Attr("gen_ai.agent.version") != codexcli.Version {
			t.Errorf("turn %s: model %q version %q", id, tr.Attr("gen_ai.request.model"), tr.Attr("gen_ai.agent.version"))
		}
		for k := range tr.Attributes {
			if strings.HasPrefix(k, "gen_ai.usage.") {
				t.Errorf("turn %s carries %s", id, k)
			}
		}
	}
	if got := len(find("invoke_agent", "", "")); got != len(ro.Turns) {
		t.Errorf("%d invoke_agent spans for %d rollout turns", got, len(ro.Turns))
	}
	under := func(s receiver.Span, turn string) {
		t.Helper()
		tr, ok := turnSpan[turn]
		if !ok {
			return
		}
		if s.ParentSpanID != tr.SpanID || s.TraceID != tr.TraceID {
			t.Errorf("%s [%s] is not under turn %s", s.Name, s.SpanID, turn)
		}
		if s.Start.Before(tr.Start) || s.End.After(tr.End) || s.End.Before(s.Start) {
			t.Errorf("%s [%s] %v..%v is not inside its turn %v..%v", s.Name, s.SpanID, s.Start, s.End, tr.Start, tr.End)
		}
	}
	for _, u := range ro.Usage {
		cs := find("chat", "gen_ai.response.id", u.ResponseID)
		if len(cs) != 1 {
			t.Errorf("response %s: %d chat spans", u.ResponseID, len(cs))
			continue
		}
		c := cs[0]
		under(c, u.TurnID)
		got := [4]int64{c.Int("gen_ai.usage.input_tokens"), c.Int("gen_ai.usage.output_tokens"), c.Int("gen_ai.usage.cache_read.input_tokens"), c.Int("gen_ai.usage.reasoning.output_tokens")}
		want := [4]int64{int64(u.Usage.InputTokens), int64(u.Usage.OutputTokens), int64(u.Usage.CachedInputTokens), int64(u.Usage.ReasoningOutputTokens)}
		if got != want {
			t.Errorf("chat %s usage (in, out, cache read, reasoning) %v, rollout says %v", u.ResponseID, got, want)
		}
		if c.Name != "chat "+codexcli.Model || c.Kind != "Client" {
			t.Errorf("chat span %q kind %q", c.Name, c.Kind)
		}
	}
	if got := len(find("chat", "", "")); got != len(ro.Usage) {
		t.Errorf("%d chat spans for %d token_usage_records", got, len(ro.Usage))
	}
	for _, c := range ro.Calls {
		ts := find("execute_tool", "gen_ai.tool.call.id", c.CallID)
		if len(ts) != 1 {
			t.Errorf("call %s: %d execute_tool spans", c.CallID, len(ts))
			continue
		}
		under(ts[0], c.TurnID)
		failed := c.ExitCode != nil && *c.ExitCode != 0
		// A call cut off by an interrupt: Codex writes its CommandExecution
		// (exit -1) after turn_aborted, or not at all when it exits first;
		// either way its span is an "interrupted" error.
		if strings.HasSuffix(c.Output, "aborted by user") {
			if ts[0].StatusCode != "Error" || ts[0].Attr("error.type") != "interrupted" {
				t.Errorf("interrupted call %s (exit %v): status %s error.type %q", c.CallID, c.ExitCode, ts[0].StatusCode, ts[0].Attr("error.type"))
			}
		} else if failed != (ts[0].StatusCode == "Error") || failed != (ts[0].Attr("error.type") != "") {
			t.Errorf("call %s (exit %v): status %s error.type %q", c.CallID, c.ExitCode, ts[0].StatusCode, ts[0].Attr("error.type"))
		}
	}
	if got := len(find("execute_tool", "", "")); got != len(ro.Calls) {
		t.Errorf("%d execute_tool spans for %d function calls", got, len(ro.Calls))
	}
	// Codex hands a hook's plain stdout to the model as a developer message
	// (a SessionStart hook printing text shows up in every request): ours
	// prints nothing, so the only developer messages are Codex's own (its
	// instructions, <tagged> context).
	for _, c := range w.api.Calls() {
		for _, it := range c.Req.Input {
			if txt := strings.TrimSpace(it.Text()); it.Type == "message" && it.Role == "developer" &&
				!strings.HasPrefix(txt, "You are a coding agent running in the Codex CLI") && !strings.HasPrefix(txt, "<") {
				t.Errorf("a developer message Codex did not write reached the model: %.200q", txt)
			}
		}
	}
	// As a backend sums a conversation: what the stand-in sent, once.
	var sent oa.Usage
	for _, c := range w.api.Calls() {
		if c.Status == http.StatusOK && c.Header.Get("session-id") == res.SessionID {
			sent = sent.Add(c.Reply.Usage)
		}
	}
	if u := backendUsage(spans)[res.SessionID]; u.In != int64(sent.InputTokens) || u.Out != int64(sent.OutputTokens) || u.CacheRead != int64(sent.CachedTokens) {
		t.Errorf("usage over the spans %+v, the stand-in sent %+v", u, sent)
	}
	if _, err := os.Stat(filepath.Join(agentd.RepoRoot(), "..", "shared", "genai-schemas")); err == nil {
		genaischema.Load(t).Spans(t, spans, 0)
	}
	return ro
}

var (
	cu1 = oa.Usage{InputTokens: 1500, CachedTokens: 1000, OutputTokens: 80, ReasoningTokens: 30}
	cu2 = oa.Usage{InputTokens: 1700, CachedTokens: 1400, OutputTokens: 15}
)

func TestCodexScenarios(t *testing.T) {
	codexcli.Require(t)
	t.Run("text answer", func(t *testing.T) {
		t.Parallel()
		w := newCodexWorld(t, oa.Steps(oa.Reply{Items: []oa.Item{oa.Reasoning("Greet."), oa.Text("Hello from Codex.")}, Usage: cu1}))
		res := w.codex("say hello", "")
		spans := w.flush()
		w.check(res, spans)
		if len(spans) != 2 {
			t.Fatalf("want a turn and a chat span, got %v", names(spans))
		}
		w.wantEvents(4) // SessionStart, UserPromptSubmit, Stop, SessionEnd
		turn := receiver.ByName(spans, "invoke_agent codex")[0]
		if !strings.Contains(turn.Attr("gen_ai.input.messages"), "say hello") || !strings.Contains(turn.Attr("gen_ai.output.messages"), "Hello from Codex.") || turn.StatusCode == "Error" {
			t.Errorf("turn: in=%s out=%s status=%s", turn.Attr("gen_ai.input.messages"), turn.Attr("gen_ai.output.messages"), turn.StatusCode)
		}
	})

	t.Run("shell tool and failing tool", func(t *testing.T) {
		t.Parallel()
		const secret = "ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5" // a GitHub token shape: masked before spooling
		w := newCodexWorld(t, oa.Steps(
			oa.Reply{Items: []oa.Item{oa.Reasoning("Two commands."), oa.Exec("echo weave-codex-ok " + secret)}, Usage: cu1},
			oa.Reply{Items: []oa.Item{oa.Exec("echo weave-codex-fail >&2; exit 4")}, Usage: cu2},
			oa.Say("One worked, one failed.", oa.Usage{InputTokens: 1900, CachedTokens: 1600, OutputTokens: 9}),
		))
		// The hook as DESIGN.md names it for Codex: `weave-agentd-hook codex`.
		w.o.HookCommand = codexcli.ShellQuote(filepath.Join(w.h.Bin, "weave-agentd-hook")) + " codex"
		w.o.Env = []string{"WEAVE_AGENTD_HOME=" + w.h.Dir}
		res := w.codex("run two commands", "")
		spans := w.flush()
		ro := w.check(res, spans)
		if len(ro.Calls) != 2 || len(ro.Usage) != 3 {
			t.Fatalf("rollout: %d calls, %d model calls", len(ro.Calls), len(ro.Usage))
		}
		w.wantEvents(8) // … plus PreToolUse and PostToolUse per call
		for _, s := range spans {
			if j, _ := json.Marshal(s); bytes.Contains(j, []byte(secret[4:24])) {
				t.Errorf("span %q carries the token unmasked: %s", s.Name, relLines(strings.ReplaceAll(string(j), ",", ",\n"), secret[4:24]))
			}
		}
		tools := receiver.ByName(spans, "execute_tool exec_command")
		if len(tools) != 2 {
			t.Fatalf("tool spans: %v", names(spans))
		}
		for _, s := range tools {
			if strings.Contains(s.Attr("gen_ai.tool.call.arguments"), "weave-codex-ok") && !strings.Contains(s.Attr("gen_ai.tool.call.result"), "weave-codex-ok") {
				t.Errorf("ok tool result %q", s.Attr("gen_ai.tool.call.result"))
			}
		}
	})

	t.Run("resumed second turn", func(t *testing.T) {
		t.Parallel()
		w := newCodexWorld(t, oa.ByPrompt(
			oa.PromptCase{Contains: "first", Responder: oa.Steps(oa.Reply{Items: []oa.Item{oa.Exec("echo first")}, Usage: cu1}, oa.Say("First.", cu2))},
			oa.PromptCase{Contains: "second", Responder: oa.Steps(oa.Say("Second.", cu1))},
		))
		r1 := w.codex("first question", "")
		r2 := w.codex("second question", "last")
		if r2.SessionID != r1.SessionID {
			t.Fatalf("resume changed the session: %s -> %s", r1.SessionID, r2.SessionID)
		}
		spans := w.flush()
		ro := w.check(r2, spans)
		if len(ro.Turns) != 2 {
			t.Fatalf("rollout turns %v", ro.Turns)
		}
		turns := receiver.ByName(spans, "invoke_agent codex")
		if len(turns) != 2 || turns[0].TraceID == turns[1].TraceID || turns[0].Attr("gen_ai.conversation.name") != turns[1].Attr("gen_ai.conversation.name") {
			t.Errorf("two turns in two traces under one conversation name: %v", names(spans))
		}
	})
}

// A model call that fails (HTTP 500; the offline config has no retries)
// fails the turn: exec exits 1 and the rollout's task_complete carries the
// error. The turn span has error status; the calls that did happen keep
// their chat and tool spans, and the failed call (no token_usage_record)
// has none.
func TestCodexFailedTurn(t *testing.T) {
	t.Parallel()
	w := newCodexWorld(t, oa.Steps(oa.Reply{Items: []oa.Item{oa.Exec("echo before-the-error")}, Usage: cu1}, oa.Reply{Status: 500, ErrorMessage: "scripted outage"}))
	o := w.o
	o.Prompt = "run echo, then fail"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := codexcli.Run(ctx, o)
	if err == nil || res.ExitCode != 1 || res.SessionID == "" || res.RolloutPath == "" {
		t.Fatalf("want exec to fail with exit 1: err %v exit %d\nstdout: %s", err, res.ExitCode, res.Stdout)
	}
	spans := w.flush()
	ro := w.check(res, spans)
	if len(ro.Usage) != 1 || len(ro.Calls) != 1 || len(w.api.Calls()) != 2 {
		t.Fatalf("rollout: %d usage records, %d calls; %d model calls", len(ro.Usage), len(ro.Calls), len(w.api.Calls()))
	}
	turns := receiver.ByName(spans, "invoke_agent codex")
	if len(turns) != 1 || turns[0].StatusCode != "Error" || turns[0].Attr("error.type") == "" || turns[0].StatusMessage == "" {
		t.Errorf("failed turn: status %q %q error.type %q", turns[0].StatusCode, turns[0].StatusMessage, turns[0].Attr("error.type"))
	}
}

// The user interrupts a turn (SIGINT, as Ctrl-C sends; here the running
// shell tool sends it to Codex): the rollout gets turn_aborted
// (reason "interrupted") and exec exits 1. The turn span has error status
// with error.type "interrupted"; the chat and tool spans of the turn are
// there once.
func TestCodexInterruptedTurn(t *testing.T) {
	t.Parallel()
	w := newCodexWorld(t, oa.Steps(oa.Reply{Items: []oa.Item{oa.Exec("kill -INT $PPID; sleep 5; echo not-reached")}, Usage: cu1}, oa.Say("Not reached.", cu2)))
	o := w.o
	o.Prompt = "run something long"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := codexcli.Run(ctx, o)
	if err == nil || res.ExitCode != 1 || res.RolloutPath == "" {
		t.Fatalf("want exec interrupted with exit 1: err %v exit %d\nstdout: %s", err, res.ExitCode, res.Stdout)
	}
	spans := w.flush()
	ro := w.check(res, spans)
	if ro.Types["event_msg/turn_aborted"] != 1 || len(w.api.Calls()) != 1 {
		t.Fatalf("rollout %v; %d model calls", ro.Types, len(w.api.Calls()))
	}
	turns := receiver.ByName(spans, "invoke_agent codex")
	if len(turns) != 1 || turns[0].StatusCode != "Error" || turns[0].Attr("error.type") != "interrupted" {
		t.Errorf("interrupted turn: status %q %q error.type %q", turns[0].StatusCode, turns[0].StatusMessage, turns[0].Attr("error.type"))
	}
}

// Auto-compaction in the middle of a turn: a model call reports more input
// than the context window (258400 for a model Codex does not know), so
// Codex summarises the history through the same endpoint before it goes on.
// The summarising call is a model call like the others: its chat span
// carries its usage, so the conversation's total stays Codex's own.
func TestCodexAutoCompaction(t *testing.T) {
	t.Parallel()
	summary := "SUMMARY: the echo ran; nothing else to do."
	w := newCodexWorld(t, func(c *oa.Call) oa.Reply {
		switch {
		case c.Req.IsCompaction():
			return oa.Say(summary, oa.Usage{InputTokens: 3000, CachedTokens: 500, OutputTokens: 40})
		case strings.Contains(c.Req.TurnPrompt(), "second"):
			return oa.Say("Second.", cu2)
		case c.Req.Compacted():
			return oa.Say("Done after compaction.", cu2)
		}
		return oa.Reply{Items: []oa.Item{oa.Exec("echo big")}, Usage: oa.Usage{InputTokens: 300000, CachedTokens: 200000, OutputTokens: 20}}
	})
	r1 := w.codex("first question", "")
	r2 := w.codex("second question", "last")
	spans := w.flush()
	ro := w.check(r2, spans)
	if ro.Types["compacted"] != 1 || len(ro.Usage) != 4 || len(w.api.Calls()) != 4 {
		t.Fatalf("rollout: %d compactions, %d usage records, %d model calls", ro.Types["compacted"], len(ro.Usage), len(w.api.Calls()))
	}
	var summarising []receiver.Span
	for _, s := range receiver.ByName(spans, "chat "+codexcli.Model) {
		if strings.Contains(s.Attr("gen_ai.output.messages"), summary) {
			summarising = append(summarising, s)
		}
	}
	if len(summarising) != 1 || summarising[0].Int("gen_ai.usage.input_tokens") != 3000 {
		t.Errorf("want one chat span for the summarising call with its usage, got %d", len(summarising))
	}
	for _, tr := range receiver.ByName(spans, "invoke_agent codex") {
		if tr.Attr("codex.turn.id") != ro.Turns[0] {
			if _, ok := tr.Attributes["weave.compaction.items_before"]; ok {
				t.Errorf("turn %s without a compaction carries weave.compaction.*", tr.Attr("codex.turn.id"))
			}
			continue
		}
		if !strings.Contains(tr.Attr("gen_ai.output.messages"), "Done after compaction.") {
			t.Errorf("turn 1 answer: %s (the summary is not the answer)", tr.Attr("gen_ai.output.messages"))
		}
		// The compaction card W&B Weave draws: the summary the model wrote
		// (without Codex's preamble), the history's length before and after.
		before, after := tr.Int("weave.compaction.items_before"), tr.Int("weave.compaction.items_after")
		if tr.Attr("weave.compaction.summary") != summary || after <= 0 || before <= after {
			t.Errorf("turn 1 compaction: summary %q items %d -> %d", tr.Attr("weave.compaction.summary"), before, after)
		}
	}
	if r1.SessionID != r2.SessionID {
		t.Errorf("resume changed the session")
	}
}

// Two Codex sessions at once in one CODEX_HOME, one daemon: each
// conversation gets exactly its own spans and usage.
func TestCodexConcurrentSessions(t *testing.T) {
	t.Parallel()
	w := newCodexWorld(t, oa.ByPrompt(
		oa.PromptCase{Contains: "alpha", Responder: oa.Steps(oa.Reply{Items: []oa.Item{oa.Exec("echo alpha")}, Usage: cu1}, oa.Say("Alpha.", cu2))},
		oa.PromptCase{Contains: "beta", Responder: oa.Steps(oa.Reply{Items: []oa.Item{oa.Reasoning("Beta."), oa.Exec("echo beta"), oa.Exec("echo beta-two")}, Usage: cu2}, oa.Say("Beta.", cu1))},
	))
	prompts := []string{"alpha task", "beta task"}
	results := make([]codexcli.Result, len(prompts))
	errs := make([]error, len(prompts))
	var wg sync.WaitGroup
	for i, p := range prompts {
		wg.Go(func() {
			o := w.o
			o.Prompt = p
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			results[i], errs[i] = codexcli.Run(ctx, o)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil || results[i].RolloutPath == "" {
			t.Fatalf("%s: %v (rollout %q)", prompts[i], err, results[i].RolloutPath)
		}
	}
	if results[0].SessionID == results[1].SessionID {
		t.Fatalf("one session for two runs: %s", results[0].SessionID)
	}
	all := w.flush()
	total := 0
	for _, res := range results {
		var mine []receiver.Span
		for _, s := range all {
			if s.Attr("gen_ai.conversation.id") == res.SessionID {
				mine = append(mine, s)
			}
		}
		total += len(mine)
		w.check(res, mine)
	}
	if total != len(all) || total != 4+5 {
		t.Errorf("%d spans, %d in the two conversations, want 9: %v", len(all), total, names(all))
	}
}

// content = "metadata" (DESIGN invariant 6) with the real Codex CLI: a
// prompt, reasoning, a tool's command and output, a failing tool's error
// output, a compaction summary and the answer, each carrying a marker, reach
// the server without any of it, and the spool holds none of it either.
func TestCodexMetadataModeDropsAllContent(t *testing.T) {
	t.Parallel()
	const mark = "OKAPI-CANARY-8812"
	w := newCodexWorld(t, func(c *oa.Call) oa.Reply {
		switch {
		case c.Req.IsCompaction():
			return oa.Say("SUMMARY "+mark, oa.Usage{InputTokens: 3000, OutputTokens: 40})
		case c.Req.Compacted():
			return oa.Say("Done: "+mark, cu2)
		case c.Req.Step() == 0:
			return oa.Reply{Items: []oa.Item{oa.Reasoning("think " + mark), oa.Text("Running " + mark), oa.Exec("echo out-" + mark)}, Usage: cu1}
		}
		// Over the context window: Codex compacts before it goes on.
		return oa.Reply{Items: []oa.Item{oa.Exec("echo err-" + mark + " >&2; exit 3")}, Usage: oa.Usage{InputTokens: 300000, OutputTokens: 20}}
	}, `content = "metadata"`)
	res := w.codex("please run "+mark, "")
	spans := w.flush()
	ro := w.check(res, spans)
	if len(ro.Calls) != 2 || ro.Types["compacted"] != 1 {
		t.Fatalf("rollout: %d calls, %d compactions", len(ro.Calls), ro.Types["compacted"])
	}
	for _, s := range spans {
		for _, k := range []string{"gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions",
			"gen_ai.tool.definitions", "gen_ai.tool.call.arguments", "gen_ai.tool.call.result"} {
			if _, ok := s.Attributes[k]; ok {
				t.Errorf("metadata mode: span %q has %s", s.Name, k)
			}
		}
		if j, _ := json.Marshal(s); bytes.Contains(j, []byte(mark)) {
			t.Errorf("metadata mode: span %q carries content: %s", s.Name, relLines(strings.ReplaceAll(string(j), ",", ",\n"), mark))
		}
	}
	spool := relStopAndReadSpool(t, w.h, w.d)
	if n := bytes.Count(spool, []byte(mark)) + relCountBase64(spool, mark); n > 0 {
		t.Errorf("metadata mode: content is in the spool file (%d occurrence(s) of the marker, plain or base64)", n)
	}
}

// max_attribute_bytes = 4096 with Codex's real sizes: its ~21 KB base
// instructions (gen_ai.system_instructions), a 12 KB prompt, a 20 KB
// answer and a 300 KB tool output. Every GenAI JSON attribute stays valid
// and within the cap; plain-text attributes are cut to it.
func TestCodexAttributeCap(t *testing.T) {
	t.Parallel()
	const limit = 4096
	answer := strings.Repeat("answer text ", 20000/12)
	w := newCodexWorld(t, oa.Steps(
		oa.Reply{Items: []oa.Item{oa.Exec("head -c 300000 /dev/zero | tr '\\0' x")}, Usage: cu1},
		oa.Say(answer, cu2),
	), fmt.Sprintf("max_attribute_bytes = %d", limit))
	res := w.codex("big "+strings.Repeat("prompt text ", 12000/12), "")
	spans := w.flush()
	w.check(res, spans)
	if _, err := os.Stat(filepath.Join(agentd.RepoRoot(), "..", "shared", "genai-schemas")); err == nil {
		rep := genaischema.Load(t).Spans(t, spans, limit)
		if rep.Checked["gen_ai.system_instructions"] != 1 || rep.Checked["gen_ai.input.messages"] != 1 || rep.Checked["gen_ai.output.messages"] != 3 {
			t.Errorf("JSON attributes checked: %v", rep.Checked)
		}
	}
	for _, s := range spans {
		for k, v := range s.Attributes {
			if str, ok := v.(string); ok && len(str) > limit+64 {
				t.Errorf("%s: %s is %d bytes, cap %d", s.Name, k, len(str), limit)
			}
		}
	}
}

// weave-agentd arrives in the middle of a session: turn 1 runs with no
// daemon and no hooks; then the daemon starts, the hooks are installed and
// the session is resumed. The first hook names the rollout, and both turns
// reach the Collector, once.
func TestCodexInstalledMidSession(t *testing.T) {
	t.Parallel()
	w := newCodexWorld(t, oa.ByPrompt(
		oa.PromptCase{Contains: "before", Responder: oa.Steps(oa.Reply{Items: []oa.Item{oa.Exec("echo before")}, Usage: cu1}, oa.Say("Before.", cu2))},
		oa.PromptCase{Contains: "after", Responder: oa.Steps(oa.Say("After.", cu1))},
	))
	w.d.Stop()
	hooks := filepath.Join(codexcli.CodexHome(w.o.Home), "hooks.json")
	installed, err := os.ReadFile(hooks)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(hooks); err != nil {
		t.Fatal(err)
	}
	r1 := w.codex("before weave-agentd", "")
	if err := os.WriteFile(hooks, installed, 0o644); err != nil {
		t.Fatal(err)
	}
	w.d = w.h.StartDaemon()
	r2 := w.codex("after weave-agentd", r1.SessionID)
	spans := w.flush()
	ro := w.check(r2, spans)
	if len(ro.Turns) != 2 || len(receiver.ByName(spans, "invoke_agent codex")) != 2 {
		t.Fatalf("turns %v; spans %v", ro.Turns, names(spans))
	}
}

// codexUUID finds a thread (agent) id in a tool's output.
var codexUUID = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// multiAgentCall is a call of one of Codex's multi_agent_v1 tools
// (spawn_agent, wait_agent, send_input).
func multiAgentCall(name string, args any) oa.Item {
	it := oa.FunctionCall(name, args)
	it.Namespace = "multi_agent_v1"
	return it
}

// A subagent: the model calls multi_agent_v1's spawn_agent, the child agent
// runs a shell command in its own thread (its own rollout file, named by the
// agent id; its hooks carry the parent's session_id, agent_id and
// agent_type and the child's transcript_path), and wait_agent collects it.
// Every model call of both threads has exactly one chat span with its usage
// and every call one tool span, so a backend's sum is the stand-in's total.
// (How the child's spans hang together is the codex package's to decide:
// DESIGN.md wants an invoke_agent span under the spawn_agent tool span.)
func TestCodexSubagent(t *testing.T) {
	t.Parallel()
	w := newCodexWorld(t, func(c *oa.Call) oa.Reply {
		if strings.Contains(c.Req.TurnPrompt(), "SUBTASK") {
			return oa.Steps(oa.Reply{Items: []oa.Item{oa.Exec("echo from-the-subagent")}, Usage: cu1}, oa.Say("Subtask done.", cu2))(c)
		}
		switch c.Req.Step() {
		case 0:
			return oa.Reply{Items: []oa.Item{multiAgentCall("spawn_agent", map[string]any{"message": "SUBTASK: run echo"})}, Usage: cu1}
		case 1:
			out, _ := c.Req.LastToolOutput()
			return oa.Reply{Items: []oa.Item{multiAgentCall("wait_agent", map[string]any{"targets": []string{codexUUID.FindString(out.OutputText())}, "timeout_ms": 60000})}, Usage: cu2}
		}
		return oa.Say("The subagent ran it.", cu1)
	})
	res := w.codex("delegate an echo", "")
	spans := w.flush()
	assertNoDuplicates(t, w.rcv)
	parent, err := codexcli.ReadRollout(res.RolloutPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(parent.Calls) != 2 || parent.Calls[0].Name != "spawn_agent" || parent.Calls[1].Name != "wait_agent" {
		t.Fatalf("parent calls: %+v", parent.Calls)
	}
	agentID := codexUUID.FindString(parent.Calls[0].Output)
	child, err := codexcli.ReadRollout(codexcli.FindRollout(w.o.Home, agentID))
	if err != nil {
		t.Fatalf("subagent %q rollout: %v", agentID, err)
	}
	if len(child.Calls) != 1 || !strings.Contains(child.Calls[0].Output, "from-the-subagent") || len(w.api.Calls()) != 5 {
		t.Fatalf("subagent calls %+v; %d model calls", child.Calls, len(w.api.Calls()))
	}
	one := func(op, key, val string) (receiver.Span, bool) {
		var out []receiver.Span
		for _, s := range spans {
			if s.Attr("gen_ai.operation.name") == op && s.Attr(key) == val {
				out = append(out, s)
			}
		}
		if len(out) != 1 {
			t.Errorf("%s %s=%s: %d spans", op, key, val, len(out))
			return receiver.Span{}, false
		}
		return out[0], true
	}
	for _, ro := range []*codexcli.Rollout{parent, child} {
		for _, u := range ro.Usage {
			if c, ok := one("chat", "gen_ai.response.id", u.ResponseID); ok &&
				(c.Int("gen_ai.usage.input_tokens") != int64(u.Usage.InputTokens) || c.Int("gen_ai.usage.output_tokens") != int64(u.Usage.OutputTokens)) {
				t.Errorf("chat %s: usage %d/%d, rollout %+v", u.ResponseID, c.Int("gen_ai.usage.input_tokens"), c.Int("gen_ai.usage.output_tokens"), u.Usage)
			}
		}
		for _, c := range ro.Calls {
			one("execute_tool", "gen_ai.tool.call.id", c.CallID)
		}
	}
	if n := len(parent.Usage) + len(child.Usage); n != 5 || len(receiver.ByName(spans, "chat "+codexcli.Model)) != n {
		t.Errorf("%d token_usage_records, %d chat spans", n, len(receiver.ByName(spans, "chat "+codexcli.Model)))
	}
	var sent oa.Usage
	for _, u := range w.api.Responses() {
		sent = sent.Add(u)
	}
	var in, out int64
	for _, u := range backendUsage(spans) {
		in, out = in+u.In, out+u.Out
	}
	if in != int64(sent.InputTokens) || out != int64(sent.OutputTokens) {
		t.Errorf("usage over all spans %d/%d, the stand-in sent %d/%d", in, out, sent.InputTokens, sent.OutputTokens)
	}
	// One conversation: the subagent's spans are in the parent's trace,
	// under `invoke_agent default` under the spawn_agent call's span, and
	// the parent conversation's usage is everything the stand-in sent.
	if u := backendUsage(spans)[res.SessionID]; u.In != int64(sent.InputTokens) || u.Out != int64(sent.OutputTokens) {
		t.Errorf("usage over the parent conversation %+v, the stand-in sent %+v", u, sent)
	}
	spawn, ok1 := one("execute_tool", "gen_ai.tool.call.id", parent.Calls[0].CallID)
	sub, ok2 := one("invoke_agent", "gen_ai.agent.id", agentID)
	if !ok1 || !ok2 {
		return
	}
	trace := genai.NewTraceID(genai.AgentCodex, res.SessionID, parent.Turns[0]).String()
	if spawn.TraceID != trace || sub.TraceID != trace || sub.ParentSpanID != spawn.SpanID || sub.Name != "invoke_agent default" ||
		sub.Attr("gen_ai.tool.call.id") != parent.Calls[0].CallID || sub.Attr("gen_ai.conversation.id") != res.SessionID {
		t.Errorf("subagent span %q [%s] in trace %s under %s (tool call %q, conversation %q); spawn span [%s] in %s",
			sub.Name, sub.SpanID, sub.TraceID, sub.ParentSpanID, sub.Attr("gen_ai.tool.call.id"), sub.Attr("gen_ai.conversation.id"), spawn.SpanID, spawn.TraceID)
	}
	for k := range sub.Attributes {
		if strings.HasPrefix(k, "gen_ai.usage.") {
			t.Errorf("subagent span carries %s", k)
		}
	}
	var childSpans []receiver.Span
	for _, u := range child.Usage {
		if c, ok := one("chat", "gen_ai.response.id", u.ResponseID); ok {
			childSpans = append(childSpans, c)
		}
	}
	for _, c := range child.Calls {
		if s, ok := one("execute_tool", "gen_ai.tool.call.id", c.CallID); ok {
			childSpans = append(childSpans, s)
		}
	}
	for _, s := range childSpans {
		if s.TraceID != trace || s.ParentSpanID != sub.SpanID || s.Attr("gen_ai.conversation.id") != res.SessionID || s.Attr("gen_ai.agent.name") != "default" {
			t.Errorf("subagent's %s [%s] in trace %s under %s, conversation %q agent %q: not under the subagent span",
				s.Name, s.SpanID, s.TraceID, s.ParentSpanID, s.Attr("gen_ai.conversation.id"), s.Attr("gen_ai.agent.name"))
		}
	}
	if n := len(receiver.ByName(spans, "invoke_agent codex")); n != 1 {
		t.Errorf("%d invoke_agent codex spans, want the parent's turn only", n)
	}
}

// A follow-up: after wait_agent saw the subagent done, the parent's
// send_input gives it a second message, which Codex runs as a second turn
// of the child's thread (the call's output names it: submission_id), and a
// second wait_agent collects it. Each run is an `invoke_agent default` span
// under the call that started it (spawn_agent, send_input), and each turn
// of the child hangs under its run's span, in the parent's trace; every
// span's parent arrives.
func TestCodexSubagentFollowUp(t *testing.T) {
	t.Parallel()
	w := newCodexWorld(t, func(c *oa.Call) oa.Reply {
		switch p := c.Req.TurnPrompt(); {
		case strings.Contains(p, "FOLLOWUP"):
			return oa.Steps(oa.Reply{Items: []oa.Item{oa.Exec("echo again")}, Usage: cu1}, oa.Say("Follow-up done.", cu2))(c)
		case strings.Contains(p, "SUBTASK"):
			return oa.Steps(oa.Reply{Items: []oa.Item{oa.Exec("echo first")}, Usage: cu1}, oa.Say("Subtask done.", cu2))(c)
		}
		agent := ""
		for _, o := range c.Req.ToolOutputs() {
			if id := codexUUID.FindString(o.OutputText()); id != "" && agent == "" {
				agent = id
			}
		}
		switch c.Req.Step() {
		case 0:
			return oa.Reply{Items: []oa.Item{multiAgentCall("spawn_agent", map[string]any{"message": "SUBTASK: run echo"})}, Usage: cu1}
		case 1, 3:
			return oa.Reply{Items: []oa.Item{multiAgentCall("wait_agent", map[string]any{"targets": []string{agent}, "timeout_ms": 60000})}, Usage: cu2}
		case 2:
			return oa.Reply{Items: []oa.Item{multiAgentCall("send_input", map[string]any{"target": agent, "message": "FOLLOWUP: run it again"})}, Usage: cu1}
		}
		return oa.Say("Both runs done.", cu1)
	})
	res := w.codex("delegate twice", "")
	spans := w.flush()
	assertNoDuplicates(t, w.rcv)
	parent, err := codexcli.ReadRollout(res.RolloutPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(parent.Calls) != 4 || parent.Calls[0].Name != "spawn_agent" || parent.Calls[2].Name != "send_input" {
		t.Fatalf("parent calls: %+v", parent.Calls)
	}
	agentID := codexUUID.FindString(parent.Calls[0].Output)
	child, err := codexcli.ReadRollout(codexcli.FindRollout(w.o.Home, agentID))
	if err != nil {
		t.Fatalf("subagent %q rollout: %v", agentID, err)
	}
	if len(child.Turns) != 2 || len(child.Calls) != 2 || !strings.Contains(parent.Calls[2].Output, child.Turns[1]) {
		t.Fatalf("subagent turns %v calls %+v; send_input output %q", child.Turns, child.Calls, parent.Calls[2].Output)
	}
	byID := map[string]receiver.Span{}
	for _, s := range spans {
		byID[s.SpanID] = s
	}
	for _, s := range spans {
		if _, ok := byID[s.ParentSpanID]; s.ParentSpanID != "" && !ok {
			t.Errorf("%s [%s]: parent %s never arrived", s.Name, s.SpanID, s.ParentSpanID)
		}
	}
	one := func(op, key, val string) (receiver.Span, bool) {
		var out []receiver.Span
		for _, s := range spans {
			if s.Attr("gen_ai.operation.name") == op && s.Attr(key) == val {
				out = append(out, s)
			}
		}
		if len(out) != 1 {
			t.Errorf("%s %s=%s: %d spans", op, key, val, len(out))
			return receiver.Span{}, false
		}
		return out[0], true
	}
	// The run each call started: under the call's span, in the parent's trace.
	trace := genai.NewTraceID(genai.AgentCodex, res.SessionID, parent.Turns[0]).String()
	runs := map[string]string{} // child turn -> its run's span id
	for i, call := range []*codexcli.FunctionCall{parent.Calls[0], parent.Calls[2]} {
		tool, ok1 := one("execute_tool", "gen_ai.tool.call.id", call.CallID)
		run, ok2 := one("invoke_agent", "gen_ai.tool.call.id", call.CallID)
		if !ok1 || !ok2 {
			continue
		}
		if run.TraceID != trace || tool.TraceID != trace || run.ParentSpanID != tool.SpanID || run.Name != "invoke_agent default" ||
			run.Attr("gen_ai.agent.id") != agentID || run.Attr("gen_ai.conversation.id") != res.SessionID {
			t.Errorf("run of %s: %q [%s] in %s under %s, agent %q; the call's span [%s] in %s",
				call.Name, run.Name, run.SpanID, run.TraceID, run.ParentSpanID, run.Attr("gen_ai.agent.id"), tool.SpanID, tool.TraceID)
		}
		runs[child.Turns[i]] = run.SpanID
	}
	for _, u := range child.Usage {
		if c, ok := one("chat", "gen_ai.response.id", u.ResponseID); ok && (c.TraceID != trace || c.ParentSpanID != runs[u.TurnID]) {
			t.Errorf("child chat %s of turn %s in %s under %s, want under its run %s", u.ResponseID, u.TurnID, c.TraceID, c.ParentSpanID, runs[u.TurnID])
		}
	}
	for _, c := range child.Calls {
		if s, ok := one("execute_tool", "gen_ai.tool.call.id", c.CallID); ok && (s.TraceID != trace || s.ParentSpanID != runs[c.TurnID]) {
			t.Errorf("child tool %s of turn %s in %s under %s, want under its run %s", c.CallID, c.TurnID, s.TraceID, s.ParentSpanID, runs[c.TurnID])
		}
	}
	var sent oa.Usage
	for _, u := range w.api.Responses() {
		sent = sent.Add(u)
	}
	if u := backendUsage(spans)[res.SessionID]; u.In != int64(sent.InputTokens) || u.Out != int64(sent.OutputTokens) {
		t.Errorf("usage over the parent conversation %+v, the stand-in sent %+v", u, sent)
	}
}

// The daemon goes away mid-session, three ways: a crash (SIGKILL) after
// turn 1 with a resumed turn 2 running while it is down (the hooks journal
// to the inbox); a crash in the middle of turn 3 (its own shell tool kills
// the daemon between PreToolUse and PostToolUse); a clean restart before
// turn 4. Every turn, chat and tool span arrives exactly once.
func TestCodexDaemonRestartMidSession(t *testing.T) {
	t.Parallel()
	var w *codexWorld
	killDaemon := func(c *oa.Call) oa.Reply {
		return oa.Steps(
			oa.Reply{Items: []oa.Item{oa.Exec(fmt.Sprintf("kill -KILL %d; echo daemon-killed", w.d.Pid()))}, Usage: cu1},
			oa.Say("Killed it.", cu2))(c)
	}
	w = newCodexWorld(t, oa.ByPrompt(
		oa.PromptCase{Contains: "turn one", Responder: oa.Steps(oa.Reply{Items: []oa.Item{oa.Exec("echo one")}, Usage: cu1}, oa.Say("One.", cu2))},
		oa.PromptCase{Contains: "turn two", Responder: oa.Steps(oa.Reply{Items: []oa.Item{oa.Reasoning("Again."), oa.Exec("echo two")}, Usage: cu2}, oa.Say("Two.", cu1))},
		oa.PromptCase{Contains: "turn three", Responder: killDaemon},
		oa.PromptCase{Contains: "turn four", Responder: oa.Steps(oa.Say("Four.", cu2))},
	))
	r1 := w.codex("turn one", "")
	if n := len(w.flush()); n != 4 {
		t.Fatalf("after turn one: %d spans %v", n, names(w.rcv.UniqueSpans()))
	}
	w.d.Kill()
	w.codex("turn two", r1.SessionID)
	w.d = w.h.StartDaemon()
	w.flush()
	r3 := w.codex("turn three", "last")
	if ro, err := codexcli.ReadRollout(r3.RolloutPath); err != nil || !strings.Contains(ro.Calls[len(ro.Calls)-1].Output, "daemon-killed") {
		t.Fatalf("turn three did not kill the daemon: %v", err)
	}
	w.d.Kill() // reaps the daemon the tool killed
	w.d = w.h.StartDaemon()
	w.flush()
	w.d.Stop()
	w.d = w.h.StartDaemon()
	r4 := w.codex("turn four", "last")
	spans := w.flush()
	ro := w.check(r4, spans)
	if len(ro.Turns) != 4 || len(receiver.ByName(spans, "invoke_agent codex")) != 4 || len(ro.Calls) != 3 {
		t.Fatalf("turns %v calls %d; spans %v", ro.Turns, len(ro.Calls), names(spans))
	}

	// A backfill of the same rollout adds nothing here, and a fresh daemon
	// that only backfills it (no hooks ever) sends the very same spans.
	if r := w.h.CLI("backfill", r4.RolloutPath); r.Code != 0 {
		t.Fatalf("backfill: %s%s", r.Stdout, r.Stderr)
	}
	if again := w.flush(); len(again) != len(spans) {
		t.Errorf("backfill after live capture: %d spans, was %d", len(again), len(spans))
	}
	assertNoDuplicates(t, w.rcv)
	rcv2, h2 := receiver.Start(t), agentd.NewHome(t)
	h2.Env = append(h2.Env, "CODEX_HOME="+codexcli.CodexHome(w.o.Home))
	h2.WriteConfig("endpoint = \"" + rcv2.URL() + "\"\n")
	d2 := h2.StartDaemon()
	if r := h2.CLI("backfill", r4.RolloutPath); r.Code != 0 {
		t.Fatalf("backfill: %s%s\n%s", r.Stdout, r.Stderr, d2.Log())
	}
	if r := h2.CLI("flush", "--timeout", "60s"); r.Code != 0 {
		t.Fatalf("flush: %s%s", r.Stdout, r.Stderr)
	}
	live := map[string]receiver.Span{}
	for _, s := range spans {
		live[s.SpanID] = s
	}
	backfilled := rcv2.UniqueSpans()
	if len(backfilled) != len(spans) {
		t.Errorf("backfill alone: %d spans, live capture %d: %v", len(backfilled), len(spans), names(backfilled))
	}
	for _, b := range backfilled {
		l, ok := live[b.SpanID]
		if !ok {
			t.Errorf("backfill-only span %s %s (trace %s) was not sent live", b.Name, b.SpanID, b.TraceID)
			continue
		}
		for _, k := range []string{"gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "gen_ai.tool.call.id", "gen_ai.response.id", "gen_ai.input.messages", "gen_ai.output.messages"} {
			if l.Attr(k) != b.Attr(k) {
				t.Errorf("%s %s: %s live %q, backfilled %q", b.Name, b.SpanID, k, l.Attr(k), b.Attr(k))
			}
		}
		if l.StatusCode != b.StatusCode || l.TraceID != b.TraceID || l.ParentSpanID != b.ParentSpanID || !l.Start.Equal(b.Start) || !l.End.Equal(b.End) {
			t.Errorf("%s %s: live %s %s/%s %v..%v, backfilled %s %s/%s %v..%v", b.Name, b.SpanID, l.StatusCode, l.TraceID, l.ParentSpanID, l.Start, l.End, b.StatusCode, b.TraceID, b.ParentSpanID, b.Start, b.End)
		}
	}
}
