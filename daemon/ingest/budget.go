package ingest

import (
	"container/list"
	"context"
	"fmt"
	"sync"
)

// byteBudget bounds the bytes held at once by requests being read and
// handled on the socket, across all connections: a connection reserves its
// frame's declared size before allocating anything for it, and waits (in
// arrival order, so small frames cannot starve a large one) while the
// budget is spent. The bytes not yet read wait in the kernel's socket
// buffer, and the client is blocked in its write meanwhile.
type byteBudget struct {
	mu      sync.Mutex
	size    int64
	used    int64
	waiters list.List // of *budgetWaiter, oldest first
}

type budgetWaiter struct {
	n     int64
	ready chan struct{} // closed when the bytes are granted
}

func newByteBudget(size int64) *byteBudget { return &byteBudget{size: size} }

// acquire reserves n bytes, waiting until they are free or ctx ends.
func (b *byteBudget) acquire(ctx context.Context, n int64) error {
	if n > b.size {
		return fmt.Errorf("request of %d bytes exceeds the daemon's budget of %d", n, b.size)
	}
	b.mu.Lock()
	if b.waiters.Len() == 0 && b.used+n <= b.size {
		b.used += n
		b.mu.Unlock()
		return nil
	}
	w := &budgetWaiter{n: n, ready: make(chan struct{})}
	elem := b.waiters.PushBack(w)
	b.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-w.ready: // granted meanwhile: give it back
		b.used -= n
	default:
		b.waiters.Remove(elem)
	}
	b.grant() // the ones behind may fit now
	return fmt.Errorf("waiting for memory to read the request: %w", ctx.Err())
}

// release returns n bytes reserved by acquire.
func (b *byteBudget) release(n int64) {
	b.mu.Lock()
	b.used -= n
	b.grant()
	b.mu.Unlock()
}

// grant hands free bytes to the waiters in order; b.mu is held.
func (b *byteBudget) grant() {
	for e := b.waiters.Front(); e != nil; e = b.waiters.Front() {
		w := e.Value.(*budgetWaiter)
		if b.used+w.n > b.size {
			return
		}
		b.used += w.n
		b.waiters.Remove(e)
		close(w.ready)
	}
}
