package claude

import (
	"runtime"
	"strings"
	"testing"

	"github.com/weave-agentd/weave-agentd/internal/testkit"
)

// One 27 MB line with a million content blocks (an answer, a prompt, or
// tool results nested in each other) must not take the heap past the
// daemon's 64 MiB soft limit: it went to ~600 MB. What one line can keep is
// bounded: the blocks past the cap are dropped, a marker says how many, and
// the line is counted as truncated.
func TestALineWithAMillionContentBlocksKeepsTheHeapBounded(t *testing.T) {
	const n = 1_000_000
	blocks := func(block string) string { return strings.TrimSuffix(strings.Repeat(block+",", n), ",") }
	prompt := testkit.OffHeap(t, `{"type":"user","uuid":"u1","sessionId":"s","timestamp":"2026-01-01T10:00:00Z","message":{"role":"user","content":[`,
		blocks(`{"type":"text","text":"p"}`), `]}}`)
	answer := testkit.OffHeap(t, `{"type":"assistant","uuid":"a1","parentUuid":"u1","sessionId":"s","timestamp":"2026-01-01T10:00:01Z","message":{"id":"m1","role":"assistant","model":"claude-x","stop_reason":"end_turn","usage":{"input_tokens":3,"output_tokens":1},"content":[`,
		blocks(`{"type":"text","text":"a"}`), `]}}`)
	nested := testkit.OffHeap(t, `{"type":"user","uuid":"u2","parentUuid":"a1","sessionId":"s","timestamp":"2026-01-01T10:00:02Z","message":{"role":"user","content":[`,
		strings.Repeat(`{"type":"tool_result","tool_use_id":"t","content":[`, n/2), strings.Repeat(`]}`, n/2), `]}}`)
	runtime.GC() // the strings that built them are garbage
	t.Logf("lines of %d, %d and %d MB", len(prompt)>>20, len(answer)>>20, len(nested)>>20)

	b := New("s", Options{})
	stop := testkit.HeapPeak(64 << 20)
	for _, l := range [][]byte{prompt, answer, nested} {
		b.Line("/t.jsonl", l)
	}
	settle(b)
	spans := b.Take()
	st, err := b.MarshalState()
	peak, live := stop()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("heap peak %d MiB, live heap peak %d MiB (besides the lines); state %d bytes", peak>>20, live>>20, len(st))
	// The daemon holds the line itself (up to 32 MiB) in its read buffer:
	// what the builder takes must leave room for it under the 64 MiB limit.
	if peak > 24<<20 || live > 16<<20 {
		t.Errorf("lines with a million content blocks took the heap to %d MiB (%d MiB live) besides the lines themselves: what one line keeps is not bounded", peak>>20, live>>20)
	}
	if got := b.Stats().TruncatedLines; got != 3 {
		t.Errorf("TruncatedLines = %d, want 3", got)
	}
	var out string
	for _, s := range spans {
		if s.Name == "invoke_agent claude-code" {
			out = testkit.AttrMap(s)["gen_ai.output.messages"] + testkit.AttrMap(s)["gen_ai.input.messages"]
		}
	}
	if !strings.Contains(out, "content blocks not kept") {
		t.Errorf("no marker for the dropped blocks in the turn's messages: %.300s", out)
	}
}
