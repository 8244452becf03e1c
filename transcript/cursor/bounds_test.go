package cursor

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/weave-agentd/weave-agentd/internal/testkit"
)

// One 27 MB transcript line with a million content blocks keeps what it
// takes bounded, besides the line itself (held by the daemon's reader):
// at most maxLineBlocks blocks, the line counted as truncated.
func TestALineWithAMillionContentBlocksKeepsTheHeapBounded(t *testing.T) {
	const n = 1_000_000
	parts := []string{`{"role":"assistant","message":{"content":[`,
		strings.TrimSuffix(strings.Repeat(`{"type":"text","text":"a"},`, n), ","), `]}}`}
	// The line lives outside the Go heap: only the builder is measured.
	line := testkit.OffHeap(t, parts...)
	parts = nil
	stop := testkit.HeapPeak(64 << 20)
	path := filepath.Join(t.TempDir(), "c.jsonl")
	b := New("conv", Options{TranscriptPath: path})
	b.Line(path, []byte(`{"role":"user","message":{"content":[{"type":"text","text":"<user_query>hi</user_query>"}]}}`))
	b.Line(path, line)
	peak, _ := stop()
	t.Logf("%d MB line: heap peak %d MiB besides it", len(line)>>20, peak>>20)
	// The decoder copies the line once (message.content); the rest must
	// stay small, so that the daemon's 64 MiB limit holds with a margin.
	if peak > 48<<20 {
		t.Errorf("a line with a million content blocks took the heap to %d MiB besides the line", peak>>20)
	}
	if got := b.Stats().TruncatedLines; got != 1 {
		t.Errorf("TruncatedLines = %d, want 1", got)
	}
	x := b.lastTx()
	if x == nil || len(x.Parts) > maxLineBlocks+1 || !strings.Contains(x.Parts[len(x.Parts)-1].Content, "not kept") {
		n := 0
		if x != nil {
			n = len(x.Parts)
		}
		t.Errorf("the transcript turn keeps %d parts, want at most %d and a marker", n, maxLineBlocks+1)
	}
}
