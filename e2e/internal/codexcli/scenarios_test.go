package codexcli

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/e2e/internal/claudecli"
	oa "github.com/weave-agentd/weave-agentd/e2e/internal/fakeopenai"
)

// session is one Codex home driven by the real CLI against the stand-in,
// with every hook payload recorded.
type session struct {
	t   *testing.T
	api *oa.Server
	rec *claudecli.HookRecorder
	o   Options
}

func newSession(t *testing.T, respond oa.Responder) *session {
	t.Helper()
	bin := Require(t)
	s := &session{t: t, api: oa.Start(t, respond), rec: claudecli.NewHookRecorder(t)}
	home := NewHome(t)
	s.o = Options{Bin: bin, Home: home, Cwd: filepath.Join(home, "project"), BaseURL: s.api.BaseURL(),
		HookCommand: ShellQuote(s.rec.Script) + " " + ShellQuote(s.rec.Dir)}
	return s
}

// run runs one prompt (resume: "", "last" or a session id) and checks the
// run succeeded and answered.
func (s *session) run(prompt, resume string) Result {
	s.t.Helper()
	o := s.o
	o.Prompt, o.Resume = prompt, resume
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := Run(ctx, o)
	if err != nil {
		s.t.Fatalf("%v", err)
	}
	if res.SessionID == "" || res.RolloutPath == "" || len(res.Messages) == 0 || res.Usage == nil {
		s.t.Fatalf("run of %q: session %q rollout %q messages %q usage %v\nstdout: %s\nstderr: %s",
			prompt, res.SessionID, res.RolloutPath, res.Messages, res.Usage, res.Stdout, res.Stderr)
	}
	return res
}

func (s *session) hooks() []claudecli.HookEvent {
	s.t.Helper()
	evs, err := s.rec.Events()
	if err != nil {
		s.t.Fatal(err)
	}
	return evs
}

// check asserts what every scenario holds: the rollout's token_usage_records
// are exactly the stand-in's responses (one per model call, same id and
// usage, in order), each turn's hooks carry its turn id, every hook names
// the session and the rollout, and each tool call joins by call_id across
// the stand-in, the rollout and PreToolUse / PostToolUse.
func (s *session) check(res Result) *Rollout {
	t := s.t
	t.Helper()
	ro, err := ReadRollout(res.RolloutPath)
	if err != nil {
		t.Fatal(err)
	}
	if ro.SessionID != res.SessionID {
		t.Errorf("rollout session %q, exec printed %q", ro.SessionID, res.SessionID)
	}
	calls := s.api.Calls()
	if len(ro.Usage) != len(calls) {
		t.Fatalf("%d token_usage_records for %d model calls", len(ro.Usage), len(calls))
	}
	var sentCalls []string
	for i, c := range calls {
		u, rep := ro.Usage[i], c.Reply
		want := TokenUsage{InputTokens: rep.Usage.InputTokens, CachedInputTokens: rep.Usage.CachedTokens,
			OutputTokens: rep.Usage.OutputTokens, ReasoningOutputTokens: rep.Usage.ReasoningTokens, TotalTokens: rep.Usage.Total()}
		if u.ResponseID != rep.ID || u.Usage != want {
			t.Errorf("token_usage_record %d = %s %+v, stand-in sent %s %+v", i, u.ResponseID, u.Usage, rep.ID, want)
		}
		if !slices.Contains(ro.Turns, u.TurnID) {
			t.Errorf("token_usage_record %d: turn %q not started in the rollout (%v)", i, u.TurnID, ro.Turns)
		}
		for _, it := range rep.Items {
			if it.Type == "function_call" {
				sentCalls = append(sentCalls, it.CallID)
			}
		}
	}
	if !slices.Equal(ro.Complete, ro.Turns) {
		t.Errorf("turns started %v, completed %v", ro.Turns, ro.Complete)
	}

	evs := s.hooks()
	turnOf := map[string]bool{}
	for _, id := range ro.Turns {
		turnOf[id] = true
	}
	pre, post := map[string]claudecli.HookEvent{}, map[string]claudecli.HookEvent{}
	for _, e := range evs {
		if e.Str("session_id") != res.SessionID || e.Str("transcript_path") != res.RolloutPath {
			t.Errorf("%s: session %q transcript %q, want %q %q", e.Name, e.Str("session_id"), e.Str("transcript_path"), res.SessionID, res.RolloutPath)
		}
		switch e.Name {
		case "UserPromptSubmit", "PreToolUse", "PostToolUse", "Stop":
			if !turnOf[e.Str("turn_id")] {
				t.Errorf("%s: turn_id %q is not a rollout turn %v", e.Name, e.Str("turn_id"), ro.Turns)
			}
		}
		switch e.Name {
		case "PreToolUse":
			pre[e.Str("tool_use_id")] = e
		case "PostToolUse":
			post[e.Str("tool_use_id")] = e
		}
	}
	var rolloutCalls []string
	for _, c := range ro.Calls {
		rolloutCalls = append(rolloutCalls, c.CallID)
		if !c.HasOutput {
			t.Errorf("call %s has no function_call_output", c.CallID)
		}
		p, ok1 := pre[c.CallID]
		q, ok2 := post[c.CallID]
		if !ok1 || !ok2 {
			t.Errorf("call %s: PreToolUse %v PostToolUse %v", c.CallID, ok1, ok2)
			continue
		}
		if p.Str("turn_id") != c.TurnID || q.Str("turn_id") != c.TurnID {
			t.Errorf("call %s in turn %s; hooks say %s / %s", c.CallID, c.TurnID, p.Str("turn_id"), q.Str("turn_id"))
		}
	}
	if !slices.Equal(rolloutCalls, sentCalls) || len(pre) != len(sentCalls) || len(post) != len(sentCalls) {
		t.Errorf("call ids: stand-in %v, rollout %v, PreToolUse %d, PostToolUse %d", sentCalls, rolloutCalls, len(pre), len(post))
	}
	// The stand-in saw each tool's output come back under its call id.
	for _, id := range sentCalls {
		found := false
		for _, c := range calls {
			for _, out := range c.Req.ToolOutputs() {
				found = found || out.CallID == id
			}
		}
		if !found {
			t.Errorf("no request carried the output of %s", id)
		}
	}
	return ro
}

// wantHooks checks the order of the hook events.
func wantHooks(t *testing.T, evs []claudecli.HookEvent, want ...string) {
	t.Helper()
	if got := claudecli.Names(evs); !slices.Equal(got, want) {
		t.Errorf("hooks %v, want %v", got, want)
	}
}

var (
	u1 = oa.Usage{InputTokens: 1200, CachedTokens: 800, OutputTokens: 60, ReasoningTokens: 24}
	u2 = oa.Usage{InputTokens: 1400, CachedTokens: 1100, OutputTokens: 12}
)

func TestScenarios(t *testing.T) {
	Require(t)
	t.Run("text answer", func(t *testing.T) {
		t.Parallel()
		s := newSession(t, oa.Steps(oa.Reply{Items: []oa.Item{oa.Reasoning("Greet."), oa.Text("Hello from the stand-in.")}, Usage: u1}))
		res := s.run("say hello", "")
		ro := s.check(res)
		wantHooks(t, s.hooks(), "SessionStart", "UserPromptSubmit", "Stop", "SessionEnd")
		if len(ro.Turns) != 1 || ro.Models[ro.Turns[0]] != Model || !slices.Equal(ro.Prompts, []string{"say hello"}) || !slices.Equal(ro.Answers, []string{"Hello from the stand-in."}) {
			t.Errorf("rollout turns %v models %v prompts %q answers %q", ro.Turns, ro.Models, ro.Prompts, ro.Answers)
		}
		stop := claudecli.Filter(s.hooks(), "Stop")[0]
		if stop.Str("last_assistant_message") != "Hello from the stand-in." || stop.Str("model") != Model {
			t.Errorf("Stop payload: %s", stop.Raw)
		}
		if c := s.api.Calls()[0]; c.Req.Model != Model || !c.Req.Stream || !slices.Contains(c.Req.ToolNames(), "exec_command") {
			t.Errorf("request: model %q stream %v tools %v", c.Req.Model, c.Req.Stream, c.Req.ToolNames())
		}
		if u := s.api.Unknown(); len(u) != 0 {
			t.Errorf("requests to unknown paths: %v", u)
		}
	})

	t.Run("shell tool call", func(t *testing.T) {
		t.Parallel()
		s := newSession(t, oa.Steps(
			oa.Reply{Items: []oa.Item{oa.Reasoning("List."), oa.Exec("echo weave-e2e-marker")}, Usage: u1},
			oa.Say("It printed the marker.", u2),
		))
		res := s.run("run echo", "")
		ro := s.check(res)
		evs := s.hooks()
		wantHooks(t, evs, "SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "Stop", "SessionEnd")
		if len(ro.Calls) != 1 || ro.Calls[0].Name != "exec_command" || ro.Calls[0].ExitCode == nil || *ro.Calls[0].ExitCode != 0 ||
			!strings.Contains(ro.Calls[0].Output, "weave-e2e-marker") {
			t.Fatalf("rollout calls: %+v", ro.Calls)
		}
		post := claudecli.Filter(evs, "PostToolUse")[0]
		if post.Str("tool_name") != "Bash" || !strings.Contains(post.Str("tool_input"), "echo weave-e2e-marker") || !strings.Contains(post.Str("tool_response"), "weave-e2e-marker") {
			t.Errorf("PostToolUse: %s", post.Raw)
		}
		// Codex's own summary: one turn, usage summed over its two model calls.
		if got := res.Usage["input_tokens"]; got != float64(u1.InputTokens+u2.InputTokens) {
			t.Errorf("turn.completed input_tokens %v, want %d", got, u1.InputTokens+u2.InputTokens)
		}
	})

	t.Run("failing tool call", func(t *testing.T) {
		t.Parallel()
		s := newSession(t, oa.Steps(
			oa.Reply{Items: []oa.Item{oa.Exec("echo about-to-fail >&2; exit 3")}, Usage: u1},
			oa.Say("It failed.", u2),
		))
		res := s.run("run a failing command", "")
		ro := s.check(res)
		evs := s.hooks()
		// Codex has no failure hook: a non-zero exit is a normal PostToolUse.
		wantHooks(t, evs, "SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "Stop", "SessionEnd")
		c := ro.Calls[0]
		if c.ExitCode == nil || *c.ExitCode != 3 || c.Status != "failed" || !strings.Contains(c.Output, "exited with code 3") {
			t.Errorf("failed call in the rollout: exit %v status %q output %q", c.ExitCode, c.Status, c.Output)
		}
		if post := claudecli.Filter(evs, "PostToolUse")[0]; !strings.Contains(post.Str("tool_response"), "about-to-fail") {
			t.Errorf("PostToolUse of the failing call: %s", post.Raw)
		}
	})

	t.Run("parallel tool calls", func(t *testing.T) {
		t.Parallel()
		s := newSession(t, oa.Steps(
			oa.Reply{Items: []oa.Item{oa.Exec("echo parallel-one"), oa.Exec("echo parallel-two")}, Usage: u1},
			oa.Say("Both ran.", u2),
		))
		ro := s.check(s.run("run two commands", ""))
		if len(ro.Calls) != 2 || len(s.api.Calls()) != 2 {
			t.Errorf("want two calls answered in one round, got %d calls, %d model calls", len(ro.Calls), len(s.api.Calls()))
		}
	})

	t.Run("resume appends to the rollout", func(t *testing.T) {
		t.Parallel()
		s := newSession(t, oa.ByPrompt(
			oa.PromptCase{Contains: "first", Responder: oa.Steps(oa.Say("First answer.", u1))},
			oa.PromptCase{Contains: "second", Responder: oa.Steps(oa.Say("Second answer.", u2))},
		))
		r1 := s.run("first question", "")
		before, err := os.ReadFile(r1.RolloutPath)
		if err != nil {
			t.Fatal(err)
		}
		r2 := s.run("second question", "last")
		if r2.SessionID != r1.SessionID || r2.RolloutPath != r1.RolloutPath {
			t.Fatalf("resume: session %s -> %s, rollout %s -> %s", r1.SessionID, r2.SessionID, r1.RolloutPath, r2.RolloutPath)
		}
		after, err := os.ReadFile(r2.RolloutPath)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(after), string(before)) || len(after) == len(before) {
			t.Errorf("the resumed run did not append to the rollout (%d -> %d bytes)", len(before), len(after))
		}
		ro := s.check(r2)
		wantHooks(t, s.hooks(), "SessionStart", "UserPromptSubmit", "Stop", "SessionEnd", "SessionStart", "UserPromptSubmit", "Stop", "SessionEnd")
		if ss := claudecli.Filter(s.hooks(), "SessionStart"); ss[0].Str("source") != "startup" || ss[1].Str("source") != "resume" {
			t.Errorf("SessionStart sources %q, %q", ss[0].Str("source"), ss[1].Str("source"))
		}
		if len(ro.Turns) != 2 || ro.Turns[0] == ro.Turns[1] || !slices.Equal(ro.Prompts, []string{"first question", "second question"}) {
			t.Errorf("turns %v prompts %q", ro.Turns, ro.Prompts)
		}
		// The second turn's request carries the first turn as history.
		last := s.api.Calls()[1].Req
		if !slices.Equal(last.Prompts(), []string{"first question", "second question"}) {
			t.Errorf("resumed request prompts %q", last.Prompts())
		}
		// turn.completed reports the session's running total after a resume, not the turn's.
		if got := r2.Usage["input_tokens"]; got != float64(u1.InputTokens+u2.InputTokens) {
			t.Errorf("resumed turn.completed input_tokens %v", got)
		}
	})

	t.Run("two tool turns by session id", func(t *testing.T) {
		t.Parallel()
		s := newSession(t, oa.ByPrompt(
			oa.PromptCase{Contains: "turn one", Responder: oa.Steps(oa.Reply{Items: []oa.Item{oa.Exec("echo one")}, Usage: u1}, oa.Say("One.", u2))},
			oa.PromptCase{Contains: "turn two", Responder: oa.Steps(oa.Reply{Items: []oa.Item{oa.Reasoning("Again."), oa.Exec("echo two")}, Usage: u2}, oa.Say("Two.", u1))},
		))
		r1 := s.run("turn one", "")
		r2 := s.run("turn two", r1.SessionID)
		if r2.SessionID != r1.SessionID {
			t.Fatalf("resume by id changed the session: %s -> %s", r1.SessionID, r2.SessionID)
		}
		ro := s.check(r2)
		if len(ro.Turns) != 2 || len(ro.UsageOf(ro.Turns[0])) != 2 || len(ro.UsageOf(ro.Turns[1])) != 2 {
			t.Fatalf("want 2 turns of 2 model calls: turns %v usage %+v", ro.Turns, ro.Usage)
		}
		if len(ro.Calls) != 2 || ro.Calls[0].TurnID != ro.Turns[0] || ro.Calls[1].TurnID != ro.Turns[1] {
			t.Errorf("calls per turn: %+v", ro.Calls)
		}
	})
}

// Homes left by killed test processes go once they are a day old.
func TestSweepHomes(t *testing.T) {
	base := t.TempDir()
	for _, n := range []string{"h-old", "h-new", "keep-old"} {
		if err := os.MkdirAll(filepath.Join(base, n, ".codex"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-48 * time.Hour)
	for _, n := range []string{"h-old", "keep-old"} {
		if err := os.Chtimes(filepath.Join(base, n), old, old); err != nil {
			t.Fatal(err)
		}
	}
	sweepHomes(base, time.Now().Add(-24*time.Hour))
	for n, want := range map[string]bool{"h-old": false, "h-new": true, "keep-old": true} {
		if _, err := os.Stat(filepath.Join(base, n)); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", n, err == nil, want)
		}
	}
}
