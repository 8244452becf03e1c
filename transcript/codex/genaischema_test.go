package codex

import (
	"testing"

	"github.com/weave-agentd/weave-agentd/config"
	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/internal/genaischema"
	"github.com/weave-agentd/weave-agentd/redact"
)

// TestGenAISchemas: every GenAI JSON attribute of every span built from the
// real captures matches the official schema as built, and after the
// daemon's redaction and size cap at 4096 bytes and at the default.
func TestGenAISchemas(t *testing.T) {
	v := genaischema.Load(t)
	seen := map[string]bool{}
	for _, name := range fixtureNames {
		t.Run(name, func(t *testing.T) {
			fx := loadFixture(t, name)
			spans := runLines(fx.session, Options{TranscriptPath: fx.path}, fx.path, fx.lines)
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
	// Codex records no tool definitions; the other three are checked.
	for _, key := range []string{"gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions"} {
		if !seen[key] {
			t.Errorf("no span has %s: the check proves nothing for it", key)
		}
	}
}
