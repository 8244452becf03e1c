package claude

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"

	"github.com/weave-agentd/weave-agentd/genai"

	"github.com/weave-agentd/weave-agentd/internal/testkit"
)

// contentAttrs are the attributes the daemon drops in metadata mode.
var contentAttrs = map[attribute.Key]bool{
	"gen_ai.input.messages": true, "gen_ai.output.messages": true, "gen_ai.system_instructions": true,
	"gen_ai.tool.definitions": true, "gen_ai.tool.call.arguments": true, "gen_ai.tool.call.result": true,
	"claude_code.compaction.summary": true, "error.message": true, "gen_ai.agent.description": true,
	"weave.compaction.summary": true,
}

// metadataView is what the daemon sends of a span in metadata mode (the
// conversation's name aside: in metadata mode it is the project and date,
// checked by metadataNames).
func metadataView(spans []genai.Span) []string {
	out := make([]genai.Span, len(spans))
	for i, s := range spans {
		var attrs []attribute.KeyValue
		for _, kv := range s.Attrs {
			if !contentAttrs[kv.Key] && kv.Key != genai.ConversationNameKey {
				attrs = append(attrs, kv)
			}
		}
		s.Attrs, s.StatusMessage = attrs, ""
		var evs []genai.Event
		for _, e := range s.Events {
			var ea []attribute.KeyValue
			for _, kv := range e.Attrs {
				if !contentAttrs[kv.Key] {
					ea = append(ea, kv)
				}
			}
			e.Attrs = ea
			evs = append(evs, e)
		}
		s.Events = evs
		out[i] = s
	}
	return canonical(out)
}

// contentTexts returns the longer texts of a feed's lines: prompts,
// answers, thinking, tool inputs and results.
func contentTexts(feed []feedLine) []string {
	var out, cwds []string
	var walk func(k string, v any)
	walk = func(k string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				walk(k, e)
			}
		case []any:
			for _, e := range x {
				walk(k, e)
			}
		case string:
			if k == "cwd" {
				cwds = append(cwds, x)
			}
			if (k == "text" || k == "thinking" || k == "content" || k == "command") && len(x) >= 48 {
				m := len(x) / 2 // the middle: a text's start may be a path also held as metadata (cwd)
				out = append(out, x[m-16:m+16])
			}
		}
	}
	for _, f := range feed {
		var v any
		if json.Unmarshal(f.line, &v) == nil {
			walk("", v)
		}
	}
	// The working directory is metadata (claude_code.cwd), even when a text quotes it.
	return slices.DeleteFunc(out, func(s string) bool {
		return slices.ContainsFunc(cwds, func(c string) bool { return strings.Contains(c, s) })
	})
}

// With DropContent, the state persisted after a line holds none of the
// transcript's text, and the spans (content attributes aside, as the daemon
// sends them in metadata mode) are those of a normal run — restored from
// that state at every line, in file order and in live (timestamp) order.
func TestDropContentKeepsSpansAndDropsText(t *testing.T) {
	fx := testkit.Fixtures(t)
	for _, gc := range goldenCases {
		t.Run(gc.name, func(t *testing.T) {
			session, opts, feed := loadCase(t, fx, gc)
			texts := contentTexts(feed)
			for _, order := range []struct {
				name string
				feed []feedLine
			}{{"files", feed}, {"live", byTimestamp(feed)}} {
				want := metadataView(runFeed(session, opts, order.feed))
				mopts := opts
				mopts.DropContent = true
				b := New(session, mopts)
				var got []genai.Span
				step := 1 // persist and restore after every line (sampled on big files)
				if len(order.feed) > 200 {
					step = len(order.feed)/60 + 1
				}
				for i, f := range order.feed {
					b.Line(f.path, f.line)
					got = append(got, b.Take()...)
					if i%step != 0 {
						continue
					}
					st, err := b.MarshalState()
					if err != nil {
						t.Fatal(err)
					}
					for _, tx := range texts {
						if strings.Contains(string(st), quoted(tx)) {
							j := strings.Index(string(st), quoted(tx))
							t.Fatalf("%s: state after line %d holds content %q: …%s…", order.name, i, tx, st[max(0, j-200):min(len(st), j+100)])
						}
					}
					b = New(session, mopts)
					if err := b.RestoreState(st); err != nil {
						t.Fatal(err)
					}
				}
				settle(b)
				got = append(got, b.Take()...)
				metadataNames(t, got, texts)
				if g := metadataView(got); strings.Join(g, "") != strings.Join(want, "") {
					t.Fatalf("%s: %d spans with DropContent, %d without:\n%s", order.name, len(g), len(want), firstDiff(want, g))
				}
			}
		})
	}
}

// quoted is s as it appears inside a JSON string (without quotes).
func quoted(s string) string {
	b, _ := json.Marshal(s)
	return strings.TrimSuffix(strings.TrimPrefix(string(b), `"`), `"`)
}

// metadataNames checks that in metadata mode every span names the
// conversation "<project folder> · <date>", one name, with no prompt text.
func metadataNames(t *testing.T, spans []genai.Span, texts []string) {
	t.Helper()
	names := map[string]bool{}
	for _, s := range spans {
		names[testkit.AttrMap(s)[string(genai.ConversationNameKey)]] = true
	}
	if len(names) != 1 {
		t.Fatalf("metadata mode: conversation names %v, want one", names)
	}
	for n := range names {
		if !strings.Contains(n, " · ") && !strings.HasPrefix(n, "claude-code ") {
			t.Errorf("metadata mode: conversation name %q, want <project> · <date>", n)
		}
		for _, tx := range texts {
			if strings.Contains(n, tx) {
				t.Errorf("metadata mode: conversation name %q holds content", n)
			}
		}
	}
}

// With DropContent, the request shapes a subagent's file records (its system
// prompt and tool definitions) never reach the persisted state.
func TestDropContentKeepsNoSubagentShape(t *testing.T) {
	session, opts, in := liveFeed(t, filepath.Join("testdata", "claude-2.1.328", "subagent"))
	opts.DropContent = true
	b := New(session, opts)
	for i, x := range in {
		if x.hook != nil {
			b.Hook(*x.hook)
		} else {
			b.Line(x.path, x.line)
		}
		st, err := b.MarshalState()
		if err != nil {
			t.Fatal(err)
		}
		for _, text := range []string{"Launch a new agent to handle complex", "Executes a bash command"} {
			if strings.Contains(string(st), text) {
				t.Fatalf("state after input %d holds the request shape (%q)", i, text)
			}
		}
	}
}
