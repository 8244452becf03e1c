package claude

import (
	"bufio"
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/genai"
)

// readLines returns the complete lines of a file.
func readLines(t testing.TB, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		lines = append(lines, append([]byte(nil), sc.Bytes()...))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// farFuture is a Tick time long after every fixture.
var farFuture = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)

// settle lets every time rule fire: a first Tick (the daemon sees the
// session), then one long after it (everything idles out).
func settle(b *Builder) {
	b.Tick(farFuture)
	b.Tick(farFuture.Add(24 * time.Hour))
}

func attrMap(s genai.Span) map[string]string {
	m := map[string]string{}
	for _, kv := range s.Attrs {
		m[string(kv.Key)] = kv.Value.String()
	}
	return m
}

// usageSum sums gen_ai.usage.* (input incl. cache, output, cache read,
// cache creation) over the spans keep selects, as a backend rolls them up.
func usageSum(spans []genai.Span, keep func(genai.Span) bool) (in, out, cr, cc int64) {
	for _, s := range spans {
		if keep != nil && !keep(s) {
			continue
		}
		for _, kv := range s.Attrs {
			switch kv.Key {
			case "gen_ai.usage.input_tokens":
				in += kv.Value.AsInt64()
			case "gen_ai.usage.output_tokens":
				out += kv.Value.AsInt64()
			case "gen_ai.usage.cache_read.input_tokens":
				cr += kv.Value.AsInt64()
			case "gen_ai.usage.cache_creation.input_tokens":
				cc += kv.Value.AsInt64()
			}
		}
	}
	return in, out, cr, cc
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
