// Package schematest is the agent packages' TestGenAISchemas: the spans
// each agent builds, checked against the official GenAI schemas as built
// and as the daemon exports them. Only tests import it.
package schematest

import (
	"testing"

	"github.com/weave-agentd/weave-agentd/config"
	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/internal/genaischema"
	"github.com/weave-agentd/weave-agentd/redact"
)

// Check runs each scenario as a subtest: every GenAI JSON attribute of its
// spans must match the official schema as built, and after the daemon's
// redaction and size cap at 4096 bytes and at the default. A scenario
// without any such attribute fails unless allowNone; each of keys must be
// carried by some scenario (the check proves nothing for a key none has).
// It skips when the schemas are absent.
func Check(t *testing.T, scenarios map[string]func(t *testing.T) []genai.Span, allowNone bool, keys ...string) {
	v := genaischema.Load(t)
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
			if n := v.Spans(t, spans); n == 0 && !allowNone {
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
	for _, key := range keys {
		if !seen[key] {
			t.Errorf("no scenario has %s: the check proves nothing for it", key)
		}
	}
}
