package gemini

import (
	"strings"
	"testing"

	"github.com/weave-agentd/weave-agentd/internal/testkit"
)

// TestALineWithManyBlocksKeepsTheHeapBounded: one ~30 MB message record
// with 900,000 content parts, thoughts or tool calls keeps what it takes
// bounded besides the line itself (held by the daemon's reader), as the
// other agents' builders do.
func TestALineWithManyBlocksKeepsTheHeapBounded(t *testing.T) {
	const n = 900_000
	prompt := `{"id":"u1","timestamp":"2026-12-05T14:00:00.000Z","type":"user","content":[{"text":"hi"}]}`
	for name, parts := range map[string]func() []string{
		"content parts": func() []string {
			return []string{`{"id":"m1","timestamp":"2026-12-05T14:00:01.000Z","type":"gemini","content":[`,
				strings.TrimSuffix(strings.Repeat(`{"text":"a"},`, n), ","), `],"model":"gemini-2.5-flash"}`}
		},
		"thoughts": func() []string {
			return []string{`{"id":"m1","timestamp":"2026-12-05T14:00:01.000Z","type":"gemini","content":"ok","thoughts":[`,
				strings.TrimSuffix(strings.Repeat(`{"subject":"s","description":"d"},`, n), ","), `],"model":"gemini-2.5-flash"}`}
		},
		"tool calls": func() []string {
			return []string{`{"id":"m1","timestamp":"2026-12-05T14:00:01.000Z","type":"gemini","content":"","model":"gemini-2.5-flash","toolCalls":[`,
				strings.TrimSuffix(strings.Repeat(`{"id":"c","name":"ls","args":{},"result":[],"status":"success"},`, n/2), ","), `]}`}
		},
	} {
		t.Run(name, func(t *testing.T) {
			line := testkit.OffHeap(t, parts()...)
			stop := testkit.HeapPeak(64 << 20)
			b := New("s", Options{})
			b.Line("", []byte(prompt))
			b.Line("", line)
			peak, _ := stop()
			t.Logf("%d MB line: heap peak %d MiB besides it", len(line)>>20, peak>>20)
			if peak > 48<<20 {
				t.Errorf("a line with %s took the heap to %d MiB besides the line", name, peak>>20)
			}
			if got := b.Stats().TruncatedLines; got != 1 {
				t.Errorf("TruncatedLines = %d, want 1", got)
			}
		})
	}
}
