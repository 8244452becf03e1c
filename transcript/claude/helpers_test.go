package claude

import (
	"strings"
	"time"

	"github.com/weave-agentd/weave-agentd/genai"
)

// farFuture is a Tick time long after every fixture.
var farFuture = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)

// settle lets every time rule fire: a first Tick (the daemon sees the
// session), then one long after it (everything idles out).
func settle(b *Builder) {
	b.Tick(farFuture)
	b.Tick(farFuture.Add(24 * time.Hour))
}

// inTrace selects the spans of one trace.
func inTrace(tr genai.TraceID) func(genai.Span) bool {
	return func(s genai.Span) bool { return s.TraceID == tr }
}

// hasUsage reports whether a span carries any gen_ai.usage.* attribute.
func hasUsage(s genai.Span) bool {
	for _, kv := range s.Attrs {
		if strings.HasPrefix(string(kv.Key), "gen_ai.usage.") {
			return true
		}
	}
	return false
}
