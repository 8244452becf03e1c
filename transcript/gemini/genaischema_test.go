package gemini

import (
	"testing"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/transcript/internal/schematest"
)

// TestGenAISchemas: every GenAI JSON attribute of the spans built from the
// captures (backfilled, live, resumed, with a subagent) matches the official schema as
// built, and after the daemon's redaction and size cap at 4096 bytes and
// at the default.
func TestGenAISchemas(t *testing.T) {
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
	// The chat files record no system instructions nor tool definitions.
	schematest.Check(t, scenarios, false, genai.InputMessagesKey, genai.OutputMessagesKey)
}
