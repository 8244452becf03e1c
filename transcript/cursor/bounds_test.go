package cursor

import (
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// One 27 MB transcript line with a million content blocks keeps what it
// takes bounded, besides the line itself (held by the daemon's reader):
// at most maxLineBlocks blocks, the line counted as truncated.
func TestALineWithAMillionContentBlocksKeepsTheHeapBounded(t *testing.T) {
	const n = 1_000_000
	parts := []string{`{"role":"assistant","message":{"content":[`,
		strings.TrimSuffix(strings.Repeat(`{"type":"text","text":"a"},`, n), ","), `]}}`}
	size := 0
	for _, p := range parts {
		size += len(p)
	}
	// The line lives outside the Go heap: only the builder is measured.
	line, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(line)
	line = line[:0]
	for _, p := range parts {
		line = append(line, p...)
	}
	parts = nil

	old := debug.SetMemoryLimit(64 << 20)
	defer debug.SetMemoryLimit(old)
	runtime.GC()
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	done := make(chan struct{})
	var peak uint64
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			metrics.Read(s)
			peak = max(peak, s[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-time.After(200 * time.Microsecond):
			}
		}
	})
	path := filepath.Join(t.TempDir(), "c.jsonl")
	b := New("conv", Options{TranscriptPath: path})
	b.Line(path, []byte(`{"role":"user","message":{"content":[{"type":"text","text":"<user_query>hi</user_query>"}]}}`))
	b.Line(path, line)
	close(done)
	wg.Wait()
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
