package claude

import (
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/transcript"

	"github.com/weave-agentd/weave-agentd/internal/testkit"
)

// goldenCase is one real transcript (plus the subagent files discovery finds).
type goldenCase struct {
	name    string
	main    string // relative to the fixtures dir
	session string
}

var goldenCases = []goldenCase{
	{"v1.0.98-inline-sidechains", "claude-code/claude-code-viewer-v1.0.98/fe5e1c67-53e7-4862-81ae-d0e013e3270b.jsonl", "fe5e1c67-53e7-4862-81ae-d0e013e3270b"},
	{"v2.1.29-image", "claude-code/entire-checkpoints-v2.1.29-32/26-dcd5518fea-0-full.jsonl", ""},
	{"v2.1.32-mcp", "claude-code/entire-checkpoints-v2.1.29-32/ad-a8171575ce-0-full.jsonl", ""},
	{"v2.1.38-short", "claude-code/spotter-v2.1.38-39/short.jsonl", ""},
	{"v2.1.38-tool-heavy", "claude-code/spotter-v2.1.38-39/tool_heavy.jsonl", ""},
	{"v2.1.38-subagent-progress-only", "claude-code/spotter-v2.1.38-39/subagent.jsonl", ""},
	{"v2.1.39-subagent-compaction", "claude-code/spotter-v2.1.38-39/4d5611e5-241a-462a-8d15-5122611a9569.jsonl", "4d5611e5-241a-462a-8d15-5122611a9569"},
	{"v2.1.291-hooks", "claude-code/forgelore-hooks-v2.1.289-291/2.1.291/transcript.jsonl", "7ee671e6-598e-454b-abd9-a0db9258f0da"},
	{"synthetic-rewind-compact", "synthetic/claude-code-log_dag_compact_after_rewind.jsonl", "s1"},
}

// sessionOf finds the session id in a transcript when the file name is not it.
func sessionOf(t testing.TB, path string) string {
	for _, l := range testkit.ReadLines(t, path) {
		r, err := parseLine(l)
		if err == nil && transcript.LooksLikeUUID(r.SessionID) {
			return r.SessionID
		}
	}
	return "unknown"
}

// loadCase returns the session, options and the lines of a case in backfill
// order: the main transcript, then each subagent file Files() discovered.
func loadCase(t testing.TB, fx string, gc goldenCase) (string, Options, []feedLine) {
	main := filepath.Join(fx, gc.main)
	session := gc.session
	if session == "" {
		session = sessionOf(t, main)
	}
	opts := Options{TranscriptPath: main}
	files := New(session, opts).Files()
	return session, opts, fixtureFeed(t, files[0], files[1:]...)
}

func TestGolden(t *testing.T) {
	fx := testkit.Fixtures(t)
	for _, gc := range goldenCases {
		t.Run(gc.name, func(t *testing.T) {
			session, opts, feed := loadCase(t, fx, gc)
			spans := runFeed(session, opts, feed)
			testkit.CheckNoDuplicates(t, spans)
			got := renderTree(gc.main, spans)
			testkit.Golden(t, filepath.Join("testdata", gc.name+".golden"), got)
		})
	}
}

// renderTree prints spans as an indented tree (indentation = parent/child),
// one trace after another in time order, with the attributes that matter.
func renderTree(title string, spans []genai.Span) string {
	var sb strings.Builder
	counts := map[string]int{}
	for _, s := range spans {
		counts[strings.SplitN(s.Name, " ", 2)[0]+":"+testkit.AttrMap(s)["gen_ai.operation.name"]]++
	}
	fmt.Fprintf(&sb, "# %s\n# %d spans:", title, len(spans))
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		fmt.Fprintf(&sb, " %s=%d", k, counts[k])
	}
	sb.WriteString("\n")
	// The names every span carries, listed once.
	sb.WriteString(testkit.ValueCounts(spans, "gen_ai.conversation.name", "gen_ai.agent.name", "gen_ai.provider.name"))
	sb.WriteString(testkit.SpanTree(spans, testkit.ByStartName, func(s genai.Span, depth int) string {
		return strings.Repeat("  ", depth) + describe(s)
	}))
	return sb.String()
}

// messageText joins the text parts of a messages attribute (for display).
func messageText(js string) string {
	var msgs []genai.Message
	if json.Unmarshal([]byte(js), &msgs) != nil {
		return js
	}
	var out []string
	for _, m := range msgs {
		for _, p := range m.Parts {
			if p.Content != "" {
				out = append(out, p.Content)
			}
		}
	}
	return strings.Join(out, " ")
}

func partTypes(js string) string {
	var types []string
	rest := js
	for {
		i := strings.Index(rest, `{"type":"`)
		if i < 0 {
			break
		}
		rest = rest[i+9:]
		j := strings.IndexByte(rest, '"')
		if j < 0 {
			break
		}
		types = append(types, rest[:j])
	}
	return strings.Join(types, ",")
}

func describe(s genai.Span) string {
	a := testkit.AttrMap(s)
	var sb strings.Builder
	sb.WriteString(s.Name)
	fmt.Fprintf(&sb, " [%s %s] %s +%s", s.TraceID.String()[:8], s.SpanID.String()[:8],
		s.Start.UTC().Format("2006-01-02T15:04:05.000"), s.End.Sub(s.Start).Round(time.Millisecond))
	if s.Status == genai.StatusError {
		fmt.Fprintf(&sb, " ERROR(%s)", a["error.type"])
		if s.StatusMessage != "" {
			fmt.Fprintf(&sb, " %q", testkit.Short(s.StatusMessage, 50))
		}
	}
	tokens := func() {
		if a["gen_ai.usage.input_tokens"] != "" {
			fmt.Fprintf(&sb, " tokens(in=%s out=%s cache_read=%s cache_write=%s",
				a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"],
				a["gen_ai.usage.cache_read.input_tokens"], a["gen_ai.usage.cache_creation.input_tokens"])
			if r := a["gen_ai.usage.reasoning.output_tokens"]; r != "" {
				fmt.Fprintf(&sb, " reasoning=%s", r)
			}
			sb.WriteString(")")
		}
	}
	switch a["gen_ai.operation.name"] {
	case "invoke_agent":
		if id := a["gen_ai.agent.id"]; id != "" {
			fmt.Fprintf(&sb, " agent=%s", id)
		}
		if m := a["gen_ai.request.model"]; m != "" {
			fmt.Fprintf(&sb, " model=%s", m)
		}
		tokens()
		if v := a["gen_ai.input.messages"]; v != "" {
			fmt.Fprintf(&sb, " prompt=%q", testkit.Short(messageText(v), 60))
		}
		if v := a["gen_ai.output.messages"]; v != "" {
			fmt.Fprintf(&sb, " answer=%q", testkit.Short(messageText(v), 40))
		}
		if a["gen_ai.system_instructions"] != "" {
			sb.WriteString(" +system_instructions")
		}
		if a["gen_ai.tool.definitions"] != "" {
			sb.WriteString(" +tool_definitions")
		}
		if a["weave.compaction.items_before"] != "" || a["weave.compaction.summary"] != "" {
			fmt.Fprintf(&sb, " weave.compaction(items %s→%s summary=%q)", a["weave.compaction.items_before"],
				a["weave.compaction.items_after"], testkit.Short(a["weave.compaction.summary"], 30))
		}
		for _, e := range s.Events {
			fmt.Fprintf(&sb, "\n%s  event %s @%s", "", e.Name, e.Time.UTC().Format("15:04:05.000"))
			for _, kv := range e.Attrs {
				if kv.Key == "claude_code.compaction.summary" {
					fmt.Fprintf(&sb, " summary=%q", testkit.Short(kv.Value.AsString(), 40))
					continue
				}
				fmt.Fprintf(&sb, " %s=%s", strings.TrimPrefix(string(kv.Key), "claude_code.compaction."), kv.Value.String())
			}
		}
	case "chat":
		fmt.Fprintf(&sb, " id=%s", a["gen_ai.response.id"])
		tokens()
		if f := a["gen_ai.response.finish_reasons"]; f != "" {
			fmt.Fprintf(&sb, " finish=%s", f)
		}
		if v := a["gen_ai.output.messages"]; v != "" {
			fmt.Fprintf(&sb, " parts=%s", partTypes(strings.TrimPrefix(v, `[{"role":"assistant","parts":`)))
		}
		if a["claude_code.compaction.call"] == "true" {
			sb.WriteString(" compaction")
			if src := a["claude_code.compaction.usage_source"]; src != "" {
				sb.WriteString("(usage from " + src + ")")
			}
		}
	case "execute_tool":
		fmt.Fprintf(&sb, " id=%s args=%q", a["gen_ai.tool.call.id"], testkit.Short(a["gen_ai.tool.call.arguments"], 50))
	}
	return sb.String()
}
