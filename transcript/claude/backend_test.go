package claude

import (
	"encoding/json"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/weave-agentd/weave-agentd/genai"

	"github.com/weave-agentd/weave-agentd/internal/testkit"
)

// These tests read the spans the way a backend does (W&B Weave, Langfuse,
// Phoenix): usage summed over every span of a conversation, names read
// from every span.

// backendCase is a session replayed in one of the orders the daemon meets.
type backendCase struct {
	name    string
	session string
	files   []string // main transcript first
	spans   []genai.Span
}

// backendCases replays every fixture session: the real transcripts in file
// order (backfill) and time order, the 2.1.328 captures live with hooks and
// in file order (main file first, subagent files after it: backfill).
func backendCases(t *testing.T) []backendCase {
	fx := testkit.Fixtures(t)
	var out []backendCase
	for _, gc := range goldenCases {
		session, opts, feed := loadCase(t, fx, gc)
		files := New(session, opts).Files()
		out = append(out,
			backendCase{gc.name + "/files", session, files, runFeed(session, opts, feed)},
			backendCase{gc.name + "/time", session, files, runFeed(session, opts, byTimestamp(feed))})
	}
	for _, dir := range liveDirs(t) {
		session, opts, in := liveFeed(t, dir)
		files := New(session, opts).Files()
		name := "2.1.328-" + filepath.Base(dir)
		out = append(out,
			backendCase{name + "/live", session, files, playLive(New(session, opts), in)},
			backendCase{name + "/files", session, files, runFeed(session, opts, fixtureFeed(t, files[0], files[1:]...))})
	}
	return out
}

// costTotals is the last cost-state record of a transcript, summed over
// models: input (with cache reads and writes) and output tokens.
func costTotals(t *testing.T, path, session string) (in, out int64, ok bool) {
	for _, l := range testkit.ReadLines(t, path) {
		var r struct {
			Type       string `json:"type"`
			SessionID  string `json:"sessionId"`
			ModelUsage map[string]struct {
				In          int64 `json:"inputTokens"`
				Out         int64 `json:"outputTokens"`
				CacheRead   int64 `json:"cacheReadInputTokens"`
				CacheCreate int64 `json:"cacheCreationInputTokens"`
			} `json:"modelUsage"`
		}
		if json.Unmarshal(l, &r) != nil || r.Type != "cost-state" || r.SessionID != session {
			continue // (the 2.1.291 fixture's record is anonymised: "<string>", all zero)
		}
		in, out, ok = 0, 0, true
		for _, u := range r.ModelUsage {
			in += u.In + u.CacheRead + u.CacheCreate
			out += u.Out
		}
	}
	return in, out, ok
}

// The sum of gen_ai.usage.* over all spans of a conversation is Claude
// Code's own total (its last cost-state record), background subagents and
// the compaction call included; no invoke_agent span carries usage.
func TestUsageSumIsClaudeCodesOwnTotal(t *testing.T) {
	checked := 0
	for _, bc := range backendCases(t) {
		t.Run(bc.name, func(t *testing.T) {
			for _, s := range bc.spans {
				if testkit.AttrMap(s)["gen_ai.operation.name"] == "invoke_agent" && hasUsage(s) {
					t.Errorf("%s %s carries usage: a backend would count it twice", s.Name, s.SpanID)
				}
			}
			wantIn, wantOut, ok := costTotals(t, bc.files[0], bc.session)
			if !ok {
				return // older than cost-state records
			}
			checked++
			u := testkit.SumUsage(bc.spans, func(s genai.Span) bool {
				return testkit.AttrMap(s)["gen_ai.conversation.id"] == bc.session
			})
			if u.Input != wantIn || u.Output != wantOut {
				t.Errorf("usage over the conversation's spans in=%d out=%d, Claude Code's cost-state says in=%d out=%d", u.Input, u.Output, wantIn, wantOut)
			}
		})
	}
	if checked == 0 {
		t.Error("no fixture with a cost-state record")
	}
}

// Every span names its conversation (one stable name per conversation), its
// agent and its provider; turns tell the agent's version and model;
// subagents the tool call that launched them.
func TestSpansCarryNamesAndLabels(t *testing.T) {
	for _, bc := range backendCases(t) {
		t.Run(bc.name, func(t *testing.T) {
			names := map[string]map[string]bool{}
			tools := map[genai.SpanID]string{}
			for _, s := range bc.spans {
				a := testkit.AttrMap(s)
				if a["gen_ai.operation.name"] == "execute_tool" {
					tools[s.SpanID] = a["gen_ai.tool.call.id"]
				}
			}
			for _, s := range bc.spans {
				a := testkit.AttrMap(s)
				for _, k := range []string{"gen_ai.conversation.id", "gen_ai.conversation.name", "gen_ai.agent.name", "gen_ai.provider.name", "gen_ai.operation.name"} {
					if a[k] == "" {
						t.Errorf("%s %s: no %s", s.Name, s.SpanID, k)
					}
				}
				if names[a["gen_ai.conversation.id"]] == nil {
					names[a["gen_ai.conversation.id"]] = map[string]bool{}
				}
				names[a["gen_ai.conversation.id"]][a["gen_ai.conversation.name"]] = true
				if a["session.id"] != a["gen_ai.conversation.id"] {
					t.Errorf("%s %s: session.id %q, want the conversation id (Langfuse and Phoenix group sessions by it)", s.Name, s.SpanID, a["session.id"])
				}
				if n := a["gen_ai.conversation.name"]; len([]rune(n)) > 80 || strings.ContainsAny(n, "<>\n") {
					t.Errorf("conversation name %q: want one line of at most 80 characters, no markup", n)
				}
				if a["gen_ai.operation.name"] != "invoke_agent" {
					continue
				}
				if a["gen_ai.agent.version"] == "" {
					t.Errorf("%s %s: no gen_ai.agent.version", s.Name, s.SpanID)
				}
				if a["gen_ai.agent.id"] == "" {
					if a["gen_ai.agent.name"] != "claude-code" {
						t.Errorf("turn %s: agent name %q", s.SpanID, a["gen_ai.agent.name"])
					}
					continue
				}
				if call, ok := tools[s.ParentID]; ok && a["gen_ai.tool.call.id"] != call {
					t.Errorf("subagent %s under tool call %s: gen_ai.tool.call.id %q", s.SpanID, call, a["gen_ai.tool.call.id"])
				}
			}
			for id, ns := range names {
				if len(ns) != 1 {
					t.Errorf("conversation %s has %d names: %v", id, len(ns), ns)
				}
			}
		})
	}
}

// No attribute key is also the prefix of another (W&B Weave nests keys at
// their dots and rejects a span where a key is both a value and a parent).
func TestNoKeyIsAnotherKeysPrefix(t *testing.T) {
	keys := map[string]bool{}
	for _, bc := range backendCases(t) {
		for _, s := range bc.spans {
			for _, kv := range s.Attrs {
				keys[string(kv.Key)] = true
			}
			for _, kv := range s.Resource {
				keys[string(kv.Key)] = true
			}
		}
	}
	checkKeyPrefixes(t, keys)
}

func checkKeyPrefixes(t *testing.T, keys map[string]bool) {
	t.Helper()
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		for i := range len(k) {
			if k[i] == '.' && keys[k[:i]] {
				t.Errorf("key %q is the prefix of %q", k[:i], k)
			}
		}
	}
}

// The compaction is on the turn where it happened, as Weave draws it; its
// model call (not in the 2.1.328 transcript) is a chat span under that turn
// with the usage the cost-state records tell.
func TestCompactionAsWeaveDrawsIt(t *testing.T) {
	for _, bc := range backendCases(t) {
		if !strings.HasPrefix(bc.name, "2.1.328-compact/") {
			continue
		}
		t.Run(bc.name, func(t *testing.T) {
			var turn *genai.Span
			for i, s := range bc.spans {
				a := testkit.AttrMap(s)
				if a["gen_ai.operation.name"] != "invoke_agent" {
					continue
				}
				compacted := a["weave.compaction.summary"] != ""
				if strings.Contains(a["gen_ai.input.messages"], "/compact") != compacted {
					t.Errorf("turn %s: weave.compaction.summary on the wrong turn: %v", s.SpanID, a)
				}
				if compacted {
					turn = &bc.spans[i]
				}
			}
			if turn == nil {
				t.Fatal("no turn carries the compaction")
			}
			a := testkit.AttrMap(*turn)
			want := map[string]string{
				"weave.compaction.items_before":     "4", // prompt, response, tool result, response
				"weave.compaction.items_after":      "3", // the summary and the two messages kept
				"claude_code.compaction.trigger":    "manual",
				"claude_code.compaction.pre_tokens": "2105",
			}
			for k, v := range want {
				if a[k] != v {
					t.Errorf("%s = %q, want %q", k, a[k], v)
				}
			}
			if !strings.HasPrefix(a["weave.compaction.summary"], "This session is being continued") {
				t.Errorf("weave.compaction.summary %q", testkit.Short(a["weave.compaction.summary"], 60))
			}
			var calls []genai.Span
			for _, s := range bc.spans {
				if s.ParentID == turn.SpanID && testkit.AttrMap(s)["claude_code.compaction.call"] == "true" {
					calls = append(calls, s)
				}
			}
			if len(calls) != 1 {
				t.Fatalf("%d compaction calls under the turn, want 1", len(calls))
			}
			// cost-state before: 4100 in, 35 out; after: 6300 in + 1800 cache read, 95 out.
			c := testkit.AttrMap(calls[0])
			if c["gen_ai.usage.input_tokens"] != "4000" || c["gen_ai.usage.cache_read.input_tokens"] != "1800" ||
				c["gen_ai.usage.output_tokens"] != "60" || c["gen_ai.request.model"] != "claude-opus-5-5" || calls[0].Name != "chat claude-opus-5-5" {
				t.Errorf("compaction call %s: %v", calls[0].Name, c)
			}
		})
	}
}

// The conversation's title is its first real prompt's first line: a local
// command before it (/model, answered without the model) does not name it,
// and later prompts do not rename it.
func TestConversationTitleIsTheFirstPrompt(t *testing.T) {
	r := newRun(t, Options{})
	r.play(t, []step{
		ln(prompt("u0", 0, "<command-name>/model</command-name>\n<command-message>model</command-message>\n<command-args></command-args>", nil)),
		ln(prompt("u0b", 0.5, "<local-command-stdout>Set model to opus</local-command-stdout>", nil)),
		ln(prompt("u1", 1, "Fix the <b>flaky</b> test\nin ./daemon please", nil)),
		ln(asst("a1", 2, "m1", "end_turn", use(1, 2, 0, 0), text("Fixed."), nil)),
		ln(sys("s1", 2.1, "stop_hook_summary", nil)),
		want(chatN, turnN),
		ln(prompt("u2", 3, "now something else", nil)),
		ln(asst("a2", 4, "m2", "end_turn", use(1, 2, 0, 0), text("Done."), nil)),
		ln(sys("s2", 4.1, "stop_hook_summary", nil)),
		want(chatN, turnN),
	})
	for _, s := range r.spans {
		if got := testkit.AttrMap(s)["gen_ai.conversation.name"]; got != "Fix the flaky test" {
			t.Errorf("%s: conversation name %q, want the first prompt's first line", s.Name, got)
		}
	}
}
