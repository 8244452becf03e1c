package e2e

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/e2e/internal/agentd"
	"github.com/weave-agentd/weave-agentd/e2e/internal/claudecli"
	fa "github.com/weave-agentd/weave-agentd/e2e/internal/fakeanthropic"
	"github.com/weave-agentd/weave-agentd/e2e/internal/receiver"
)

// claudeRun runs the real Claude Code CLI offline against api, with its hooks
// registered to our real hook binary, in h's HOME.
func claudeRun(t *testing.T, h *agentd.Home, api *fa.Server, cwd, prompt, resume string) claudecli.Result {
	t.Helper()
	bin := claudecli.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := claudecli.Run(ctx, claudecli.Options{
		Bin: bin, Home: h.HOME, Cwd: cwd, BaseURL: api.URL(), Prompt: prompt, Resume: resume,
		HookCommand: filepath.Join(h.Bin, "weave-agentd-hook"), HookArgs: []string{"claude"},
		Env: []string{"WEAVE_AGENTD_HOME=" + h.Dir},
	})
	if err != nil {
		t.Fatalf("claude -p: %v\nstdout: %s\nstderr: %s", err, res.Stdout, res.Stderr)
	}
	if res.ExitCode != 0 || res.IsError {
		t.Fatalf("claude -p exit %d is_error=%v\nstdout: %s\nstderr: %s", res.ExitCode, res.IsError, res.Stdout, res.Stderr)
	}
	return res
}

// The real client: Claude Code's own hooks call our hook binary, the daemon
// tails Claude Code's own transcript, and the turn reaches the Collector.
func TestRealClaudeCodeTurnReachesCollector(t *testing.T) {
	claudecli.Require(t)
	rcv := receiver.Start(t)
	h := agentd.NewHome(t)
	h.WriteConfig("endpoint = \"" + rcv.URL() + "\"\n")
	d := h.StartDaemon()

	u1 := fa.Usage{InputTokens: 1200, OutputTokens: 40, CacheReadInputTokens: 3000, CacheCreationInputTokens: 500}
	u2 := fa.Usage{InputTokens: 1300, OutputTokens: 25, CacheReadInputTokens: 3500, CacheCreationInputTokens: 100}
	api := fa.Start(t, fa.Script{Main: fa.Steps(
		fa.Reply{Parts: []fa.Part{fa.Thinking("Run it."), fa.Bash("echo weave-e2e", "Print a marker")}, Usage: u1},
		fa.Say("The command printed weave-e2e.", u2),
	)})
	cwd := t.TempDir()
	res := claudeRun(t, h, api, cwd, "run echo weave-e2e", "")

	if r := h.CLI("flush", "--timeout", "30s"); r.Code != 0 {
		t.Fatalf("flush: %d %s%s\n%s", r.Code, r.Stdout, r.Stderr, d.Log())
	}
	spans := waitSpans(t, rcv, func(s []receiver.Span) bool {
		for _, sp := range s {
			if sp.Name == "invoke_agent claude-code" && sp.Attr("gen_ai.conversation.id") == res.SessionID {
				return true
			}
		}
		return false
	})
	var turn receiver.Span
	for _, sp := range spans {
		if sp.Name == "invoke_agent claude-code" {
			turn = sp
		}
		if sp.Attr("gen_ai.conversation.id") != res.SessionID {
			t.Errorf("span %s has conversation id %q, want %q", sp.Name, sp.Attr("gen_ai.conversation.id"), res.SessionID)
		}
	}
	if got, want := backendUsage(spans)[res.SessionID].Out, int64(u1.OutputTokens+u2.OutputTokens); got != want {
		t.Errorf("output tokens over the spans = %d, want %d (once per message id)", got, want)
	}
	if turn.Resource["service.name"] != "claude-code" || turn.Resource["service.version"] != "2.1.328" {
		t.Errorf("resource = %v", turn.Resource)
	}
	if turn.Start.IsZero() || turn.End.Before(turn.Start) || time.Since(turn.Start) > 10*time.Minute {
		t.Errorf("turn times %v .. %v", turn.Start, turn.End)
	}
	if len(receiver.ByName(spans, "execute_tool Bash")) != 1 {
		t.Errorf("want one execute_tool Bash span; spans: %v", names(spans))
	}
	assertNoDuplicates(t, rcv)
	st, code := h.Status()
	if code != 0 {
		t.Fatalf("status exit %d: %v", code, st)
	}
	if c, _ := st["counters"].(map[string]any); c["events"].(float64) < 4 {
		t.Errorf("hook events stored = %v, want the real hooks of the run", c["events"])
	}
}

func names(spans []receiver.Span) []string {
	out := make([]string, len(spans))
	for i, s := range spans {
		out[i] = s.Name
	}
	return out
}
