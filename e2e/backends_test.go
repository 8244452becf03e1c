package e2e

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/weave-agentd/weave-agentd/e2e/internal/agentd"
	"github.com/weave-agentd/weave-agentd/e2e/internal/claudecli"
	fa "github.com/weave-agentd/weave-agentd/e2e/internal/fakeanthropic"
	"github.com/weave-agentd/weave-agentd/e2e/internal/receiver"
)

// usageTotals are token counts as a backend rolls them up: input including
// cache reads and writes, output, and the cache parts on their own.
type usageTotals struct{ In, Out, CacheRead, CacheCreate int64 }

// backendUsage sums gen_ai.usage.* over every span of each conversation,
// the way W&B Weave, Langfuse and Phoenix roll up a trace.
func backendUsage(spans []receiver.Span) map[string]usageTotals {
	out := map[string]usageTotals{}
	for _, s := range spans {
		c := s.Attr("gen_ai.conversation.id")
		u := out[c]
		u.In += s.Int("gen_ai.usage.input_tokens")
		u.Out += s.Int("gen_ai.usage.output_tokens")
		u.CacheRead += s.Int("gen_ai.usage.cache_read.input_tokens")
		u.CacheCreate += s.Int("gen_ai.usage.cache_creation.input_tokens")
		out[c] = u
	}
	return out
}

// claudeCodeTotals reads Claude Code's own totals for a session: the last
// cost-state record of its transcript, summed over models.
func claudeCodeTotals(t *testing.T, path string) usageTotals {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var tot usageTotals
	found := false
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var rec struct {
			Type       string `json:"type"`
			ModelUsage map[string]struct {
				In          int64 `json:"inputTokens"`
				Out         int64 `json:"outputTokens"`
				CacheRead   int64 `json:"cacheReadInputTokens"`
				CacheCreate int64 `json:"cacheCreationInputTokens"`
			} `json:"modelUsage"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) != nil || rec.Type != "cost-state" {
			continue
		}
		found, tot = true, usageTotals{}
		for _, u := range rec.ModelUsage {
			tot.In += u.In + u.CacheRead + u.CacheCreate
			tot.Out += u.Out
			tot.CacheRead += u.CacheRead
			tot.CacheCreate += u.CacheCreate
		}
	}
	if !found {
		t.Fatalf("%s: no cost-state record (Claude Code %s writes one per run)", path, claudecli.Version)
	}
	return tot
}

// checkBackendView reads what arrived as a backend does and compares it
// with Claude Code's own account of the session.
func checkBackendView(t *testing.T, spans []receiver.Span, session, transcript string) {
	t.Helper()
	if got, want := backendUsage(spans)[session], claudeCodeTotals(t, transcript); got != want {
		t.Errorf("usage summed over the conversation's spans %+v, Claude Code's cost-state says %+v", got, want)
	}
	toolCalls := map[string]string{} // span id -> gen_ai.tool.call.id
	for _, s := range spans {
		if s.Attr("gen_ai.operation.name") == "execute_tool" {
			toolCalls[s.SpanID] = s.Attr("gen_ai.tool.call.id")
		}
	}
	titles := map[string]bool{}
	for _, s := range spans {
		for _, k := range []string{"gen_ai.conversation.id", "gen_ai.conversation.name", "gen_ai.agent.name", "gen_ai.provider.name", "gen_ai.operation.name"} {
			if s.Attr(k) == "" {
				t.Errorf("%s [%s]: no %s (Weave's agents view needs it on every span)", s.Name, s.SpanID, k)
			}
		}
		titles[s.Attr("gen_ai.conversation.name")] = true
		if s.Attr("session.id") != session {
			t.Errorf("%s [%s]: session.id %q, want the conversation id", s.Name, s.SpanID, s.Attr("session.id"))
		}
		if s.Attr("gen_ai.operation.name") != "invoke_agent" {
			continue
		}
		for k := range s.Attributes {
			if strings.HasPrefix(k, "gen_ai.usage.") {
				t.Errorf("%s [%s] carries %s: a backend would count it twice", s.Name, s.SpanID, k)
			}
		}
		if got := s.Attr("gen_ai.agent.version"); got != claudecli.Version {
			t.Errorf("%s [%s]: gen_ai.agent.version %q, want %s", s.Name, s.SpanID, got, claudecli.Version)
		}
		if s.Attr("gen_ai.request.model") == "" {
			t.Errorf("%s [%s]: no gen_ai.request.model", s.Name, s.SpanID)
		}
		if s.Attr("gen_ai.agent.id") != "" {
			if call := toolCalls[s.ParentSpanID]; call == "" || s.Attr("gen_ai.tool.call.id") != call {
				t.Errorf("subagent %s: gen_ai.tool.call.id %q, want its Agent tool call's %q", s.SpanID, s.Attr("gen_ai.tool.call.id"), call)
			}
		}
	}
	if len(titles) != 1 {
		t.Errorf("conversation names %v, want one stable title", titles)
	}
}

// backfillView imports a finished session into a fresh daemon (main file
// first, then its subagent files, as backfill reads them) and returns what
// reached its own receiver.
func backfillView(t *testing.T, projectDir string) []receiver.Span {
	t.Helper()
	rcv := receiver.Start(t)
	h := agentd.NewHome(t)
	h.WriteConfig("endpoint = \"" + rcv.URL() + "\"\n")
	d := h.StartDaemon()
	if r := h.CLI("backfill", projectDir); r.Code != 0 {
		t.Fatalf("backfill: %s%s", r.Stdout, r.Stderr)
	}
	if r := h.CLI("flush", "--timeout", "60s"); r.Code != 0 {
		t.Fatalf("flush: %d %s%s\n%s", r.Code, r.Stdout, r.Stderr, d.Log())
	}
	assertNoDuplicates(t, rcv)
	return rcv.UniqueSpans()
}

// What a user of W&B Weave, Langfuse or Phoenix sees of real Claude Code
// 2.1.328 sessions, live and backfilled: each conversation's usage summed
// over all its spans is Claude Code's own total (background subagent and
// compaction call included, nothing twice), every span is named, and the
// compaction is on the /compact turn as Weave draws it.
func TestBackendViewOfRealClaudeCode(t *testing.T) {
	t.Run("resume and /compact", func(t *testing.T) {
		t.Parallel()
		compactUsage := fa.Usage{InputTokens: 2200, OutputTokens: 60, CacheReadInputTokens: 1800}
		w := newWorld(t, fa.Script{
			Main: fa.TwoQuestions(),
			Compact: func(*fa.Call) fa.Reply {
				return fa.Say("<analysis>short</analysis>\n<summary>\n1. Primary Request and Intent: two questions.\n</summary>", compactUsage)
			},
		})
		r1 := w.claude("first question", "")
		w.claude("second question", r1.SessionID)
		w.claude("/compact", r1.SessionID)
		live := w.flush()
		w.check(r1.SessionID, live)
		for name, spans := range map[string][]receiver.Span{"live": live, "backfill": backfillView(t, r1.ProjectDir)} {
			t.Run(name, func(t *testing.T) {
				checkBackendView(t, spans, r1.SessionID, r1.TranscriptPath)
				checkCompaction(t, spans, compactUsage)
			})
		}
	})

	t.Run("background subagent", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, fa.BackgroundSubagent())
		res := w.claude("delegate an echo to a subagent", "")
		live := w.flush()
		w.check(res.SessionID, live)
		for name, spans := range map[string][]receiver.Span{"live": live, "backfill": backfillView(t, res.ProjectDir)} {
			t.Run(name, func(t *testing.T) {
				checkBackendView(t, spans, res.SessionID, res.TranscriptPath)
				subs := receiver.ByName(spans, "invoke_agent general-purpose")
				if len(subs) != 1 || len(receiver.Children(spans, subs[0])) == 0 {
					t.Fatalf("want the subagent with its own spans, got %v", names(spans))
				}
				if got := subs[0].Attr("gen_ai.agent.name"); got != "general-purpose" {
					t.Errorf("subagent gen_ai.agent.name %q", got)
				}
				for _, c := range receiver.Children(spans, subs[0]) {
					if got := c.Attr("gen_ai.agent.name"); got != "general-purpose" {
						t.Errorf("%s inside the subagent: gen_ai.agent.name %q, want the subagent's", c.Name, got)
					}
				}
				if title := subs[0].Attr("gen_ai.conversation.name"); title != "delegate an echo to a subagent" {
					t.Errorf("conversation name %q, want the first prompt", title)
				}
			})
		}
	})
}

// checkCompaction finds the /compact turn: it carries the weave.compaction.*
// attributes Weave draws its card from, and the summarising call is a chat
// span under it with the usage the API sent for it.
func checkCompaction(t *testing.T, spans []receiver.Span, u fa.Usage) {
	t.Helper()
	var turn *receiver.Span
	for i, s := range receiver.ByName(spans, "invoke_agent claude-code") {
		if s.Attr("weave.compaction.summary") != "" {
			if turn != nil {
				t.Errorf("two turns carry a compaction")
			}
			turn = &receiver.ByName(spans, "invoke_agent claude-code")[i]
		}
	}
	if turn == nil {
		t.Fatalf("no turn carries weave.compaction.summary: %v", names(spans))
	}
	if !strings.Contains(turn.Attr("gen_ai.input.messages"), "compact") {
		t.Errorf("compaction on turn %s, not the /compact turn", turn.Attr("gen_ai.input.messages"))
	}
	if !strings.Contains(turn.Attr("weave.compaction.summary"), "Primary Request and Intent") {
		t.Errorf("weave.compaction.summary %q", turn.Attr("weave.compaction.summary"))
	}
	if turn.Int("weave.compaction.items_before") <= 0 || turn.Int("weave.compaction.items_after") <= 0 {
		t.Errorf("items before %d after %d", turn.Int("weave.compaction.items_before"), turn.Int("weave.compaction.items_after"))
	}
	if turn.Attr("claude_code.compaction.trigger") != "manual" || turn.Int("claude_code.compaction.pre_tokens") <= 0 {
		t.Errorf("trigger %q pre_tokens %d", turn.Attr("claude_code.compaction.trigger"), turn.Int("claude_code.compaction.pre_tokens"))
	}
	var calls []receiver.Span
	for _, c := range receiver.Children(spans, *turn) {
		if c.Attr("claude_code.compaction.call") == "true" {
			calls = append(calls, c)
		}
	}
	if len(calls) != 1 {
		t.Fatalf("compaction calls under the /compact turn: %d, want 1 (%v)", len(calls), names(receiver.Children(spans, *turn)))
	}
	c := calls[0]
	if c.Attr("gen_ai.operation.name") != "chat" || c.Int("gen_ai.usage.output_tokens") != int64(u.OutputTokens) ||
		c.Int("gen_ai.usage.input_tokens") != int64(u.InputTokens+u.CacheReadInputTokens+u.CacheCreationInputTokens) ||
		c.Int("gen_ai.usage.cache_read.input_tokens") != int64(u.CacheReadInputTokens) {
		t.Errorf("compaction call %s: %v, want the usage the API sent %+v", c.Name, c.Attributes, u)
	}
}
