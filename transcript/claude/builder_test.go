package claude

import (
	"fmt"
	"strings"
	"testing"

	"github.com/weave-agentd/weave-agentd/genai"

	"github.com/weave-agentd/weave-agentd/internal/testkit"
)

// TestHandCountedUsage checks turn token sums against counts made by hand
// (and cross-checked with jq: group assistant lines by message.id, max per
// field, sum).
func TestHandCountedUsage(t *testing.T) {
	fx := testkit.Fixtures(t)
	cases := []struct {
		name     string
		gc       goldenCase
		turnKey  string
		in, out  string // gen_ai.usage.input_tokens (incl. cache), output_tokens
		cr, cc   string
		start    string
		end      string
		model    string
		version  string
		children int // spans in the turn's trace besides the turn
	}{
		{
			// Three responses, one line each: input 2+2+2, cache_creation
			// 18580+10728+4276, cache_read 10341+28921+39649, output 78+73+59.
			name: "2.1.291", gc: goldenCases[7], turnKey: "4fff4ddf-6363-4f12-a6ac-62d10db1f18d",
			in: "112501", out: "210", cr: "78911", cc: "33584",
			start: "10:15:11.401", end: "10:15:29.017", model: "claude-opus-5", version: "2.1.291", children: 5,
		},
		{
			// One response written as five lines (text, thinking, text,
			// tool_use, tool_use), usage repeated on each: counted once,
			// 3+11515+13835 in, 13 out.
			name: "2.1.38 short", gc: goldenCases[3], turnKey: "7d48cbd2-6615-4dd8-87f6-38f12b8167d6",
			in: "25353", out: "13", cr: "11515", cc: "13835",
			start: "21:11:56.846", end: "21:12:02.480", model: "claude-opus-4-6", version: "2.1.38", children: 3,
		},
		{
			// First turn: 30 distinct response ids in the main file and the
			// Explore subagent's file (its 67 agent_progress copies in the
			// parent are not counted): input 87, cache_read 1650698,
			// cache_creation 141772, output 5501 (placeholder counts, max per id).
			name: "2.1.39 subagent", gc: goldenCases[6], turnKey: "daa5a4bb-530c-4055-b20c-bde38255c99e",
			in: "1792557", out: "5501", cr: "1650698", cc: "141772",
			start: "16:02:25.284", end: "16:08:07.176", model: "claude-opus-4-6", version: "2.1.39", children: 86,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			session, opts, feed := loadCase(t, fx, tc.gc)
			spans := runFeed(session, opts, feed)
			var turn *genai.Span
			children := 0
			for i, s := range spans {
				if s.Name == "invoke_agent claude-code" && testkit.AttrMap(s)["claude_code.turn.ordinal"] == "1" {
					turn = &spans[i]
				}
			}
			if turn == nil {
				t.Fatal("no first turn")
			}
			for _, s := range spans {
				if s.TraceID == turn.TraceID && s.SpanID != turn.SpanID {
					children++
				}
			}
			a := testkit.AttrMap(*turn)
			if tc.children >= 0 {
				wantTrace := genai.NewTraceID("claude-code", session, tc.turnKey)
				if turn.TraceID != wantTrace || turn.SpanID != genai.NewSpanID(wantTrace, genai.KindTurn, "turn") {
					t.Errorf("ids %s/%s, want trace %s", turn.TraceID, turn.SpanID, wantTrace)
				}
				if children != tc.children {
					t.Errorf("%d children, want %d", children, tc.children)
				}
			}
			want := map[string]string{
				"gen_ai.operation.name":  "invoke_agent",
				"gen_ai.provider.name":   "anthropic",
				"gen_ai.agent.name":      "claude-code",
				"gen_ai.conversation.id": session,
				"gen_ai.request.model":   tc.model,
				"gen_ai.agent.version":   tc.version,
			}
			for k, v := range want {
				if a[k] != v {
					t.Errorf("%s = %q, want %q", k, a[k], v)
				}
			}
			if hasUsage(*turn) {
				t.Errorf("usage on the turn span (a backend would count it twice): %v", a)
			}
			u := testkit.SumUsage(spans, inTrace(turn.TraceID))
			if got := fmt.Sprintf("in=%d out=%d cache_read=%d cache_creation=%d", u.Input, u.Output, u.CacheRead, u.CacheCreation); got != "in="+tc.in+" out="+tc.out+" cache_read="+tc.cr+" cache_creation="+tc.cc {
				t.Errorf("usage over the trace's spans %s, want in=%s out=%s cache_read=%s cache_creation=%s", got, tc.in, tc.out, tc.cr, tc.cc)
			}
			if got := turn.Start.Format("15:04:05.000"); got != tc.start {
				t.Errorf("start %s, want %s", got, tc.start)
			}
			if got := turn.End.Format("15:04:05.000"); got != tc.end {
				t.Errorf("end %s, want %s", got, tc.end)
			}
			res := map[string]string{}
			for _, kv := range turn.Resource {
				res[string(kv.Key)] = kv.Value.String()
			}
			if res["service.name"] != "claude-code" || res["service.version"] != tc.version {
				t.Errorf("resource %v", res)
			}
		})
	}
}

func TestGoldenCasesIndex(t *testing.T) {
	// The hand counts above refer to goldenCases by index.
	for i, want := range map[int]string{3: "v2.1.38-short", 6: "v2.1.39-subagent-compaction", 7: "v2.1.291-hooks"} {
		if goldenCases[i].name != want {
			t.Fatalf("goldenCases[%d] = %s, want %s", i, goldenCases[i].name, want)
		}
	}
}

// A transcript rewritten while tailed is read again from its start: the
// open turn's prompt lines, seen twice, count once.
func TestPromptLineReadAgainCountsOnce(t *testing.T) {
	const prompt = `{"type":"user","uuid":"u1","sessionId":"s","timestamp":"2026-01-01T10:00:00Z","message":{"role":"user","content":"say hello"}}`
	const answer = `{"type":"assistant","uuid":"a1","parentUuid":"u1","sessionId":"s","timestamp":"2026-01-01T10:00:01Z","message":{"id":"m1","role":"assistant","model":"claude-x","stop_reason":"end_turn","content":[{"type":"text","text":"hello"}],"usage":{"input_tokens":3,"output_tokens":1}}}`
	b := New("s", Options{})
	b.Line("/t.jsonl", []byte(prompt))
	b.Line("/t.jsonl", []byte(prompt)) // rewritten file, read again
	b.Line("/t.jsonl", []byte(answer))
	settle(b)
	for _, s := range b.Take() {
		if s.Name != "invoke_agent claude-code" {
			continue
		}
		for _, kv := range s.Attrs {
			if kv.Key == "gen_ai.input.messages" {
				if got := kv.Value.AsString(); strings.Count(got, "say hello") != 1 {
					t.Fatalf("prompt %s", got)
				}
				return
			}
		}
	}
	t.Fatal("no turn span with its prompt")
}
