package gemini

import (
	"testing"

	"github.com/weave-agentd/weave-agentd/config"
	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/internal/genaischema"
	"github.com/weave-agentd/weave-agentd/redact"
)

// TestGenAISchemas: every GenAI JSON attribute of the spans built from the
// captures (backfilled, live, resumed, with a subagent) matches the official schema as
// built, and after the daemon's redaction and size cap at 4096 bytes and
// at the default.
func TestGenAISchemas(t *testing.T) {
	v := genaischema.Load(t)
	scenarios := map[string]func(t *testing.T) []genai.Span{}
	for _, c := range fixtureCases {
		scenarios[c.name+" backfill"] = func(t *testing.T) []genai.Span { return backfill(loadFixture(t, c.name), Options{}) }
		scenarios[c.name+" live"] = func(t *testing.T) []genai.Span {
			spans, _ := live(loadFixture(t, c.name), Options{})
			return spans
		}
	}
	scenarios["resume"] = func(t *testing.T) []genai.Span {
		fc := loadFixture(t, "tool")
		b := New(fc.session, Options{})
		for _, l := range resumeLines(t, fc) {
			b.Line(fc.chat, l)
		}
		settle(b)
		return b.Take()
	}
	scenarios["subagent"] = func(t *testing.T) []genai.Span { return feedChat(t, subagentChat(t), Options{}) }
	seen := map[string]bool{}
	for name, build := range scenarios {
		t.Run(name, func(t *testing.T) {
			spans := build(t)
			for _, s := range spans {
				for _, kv := range s.Attrs {
					if genai.IsJSONAttr(string(kv.Key)) {
						seen[string(kv.Key)] = true
					}
				}
			}
			if n := v.Spans(t, spans); n == 0 {
				t.Fatal("no GenAI JSON attribute to check")
			}
			for _, max := range []int{4096, config.DefaultMaxAttributeBytes} {
				r, err := redact.New(&config.Config{MaxAttributeBytes: max})
				if err != nil {
					t.Fatal(err)
				}
				v.SpansAfter(t, spans, r.Span, max)
			}
		})
	}
	// The chat files record no system instructions nor tool definitions.
	for _, key := range []string{genai.InputMessagesKey, genai.OutputMessagesKey} {
		if !seen[key] {
			t.Errorf("no scenario has %s: the check proves nothing for it", key)
		}
	}
}
