package testkit

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"syscall"
	"testing"
	"time"
)

// HeapPeak samples the heap under a soft memory limit (the daemon's,
// debug.SetMemoryLimit) until stop is called, and returns the highest heap
// (objects, live or not yet swept) and live heap (as of the last GC) seen.
// stop restores the limit that was in force.
func HeapPeak(limit int64) (stop func() (peak, live uint64)) {
	old := debug.SetMemoryLimit(limit)
	runtime.GC()
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/live:bytes"}}
	done := make(chan struct{})
	var peak, live uint64
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			metrics.Read(s)
			peak = max(peak, s[0].Value.Uint64())
			live = max(live, s[1].Value.Uint64())
			select {
			case <-done:
				return
			case <-time.After(200 * time.Microsecond):
			}
		}
	})
	return func() (uint64, uint64) {
		close(done)
		wg.Wait()
		debug.SetMemoryLimit(old)
		return peak, live
	}
}

// OffHeap copies parts into memory outside the Go heap (as a line sits in
// the daemon's read buffer), so that HeapPeak measures only what the code
// under test allocates. It is unmapped when the test ends.
func OffHeap(t testing.TB, parts ...string) []byte {
	t.Helper()
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	b, err := syscall.Mmap(-1, 0, max(n, 1), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Munmap(b) })
	b = b[:0]
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}
