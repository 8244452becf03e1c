package codex

import (
	"testing"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/transcript/internal/schematest"
)

// TestGenAISchemas: every GenAI JSON attribute of every span built from the
// real captures matches the official schema as built, and after the
// daemon's redaction and size cap at 4096 bytes and at the default.
func TestGenAISchemas(t *testing.T) {
	scenarios := map[string]func(t *testing.T) []genai.Span{}
	for _, name := range fixtureNames {
		scenarios[name] = func(t *testing.T) []genai.Span {
			fx := loadFixture(t, name)
			return runLines(fx.session, Options{TranscriptPath: fx.path}, fx.path, fx.lines)
		}
	}
	// Codex records no tool definitions; the other three are checked.
	schematest.Check(t, scenarios, false, genai.InputMessagesKey, genai.OutputMessagesKey, genai.SystemInstructionsKey)
}
