package ingest

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// The budget grants in arrival order: a large request is not starved by
// small ones arriving after it, and a waiter that gives up lets the ones
// behind it through.
func TestByteBudgetGrantsInOrderAndGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newByteBudget(10)
		if err := b.acquire(context.Background(), 6); err != nil {
			t.Fatal(err)
		}
		var order []int64
		got := make(chan int64, 3)
		go func() { // waits: 6+8 > 10
			if b.acquire(context.Background(), 8) == nil {
				got <- 8
			}
		}()
		synctest.Wait()
		go func() { // would fit (6+3) but queues behind the 8
			if b.acquire(context.Background(), 3) == nil {
				got <- 3
			}
		}()
		synctest.Wait()
		if len(got) != 0 {
			t.Fatal("a request overtook the budget or the queue")
		}
		b.release(6)
		order = append(order, <-got)
		b.release(8)
		order = append(order, <-got)
		if order[0] != 8 || order[1] != 3 {
			t.Fatalf("granted in order %v, want [8 3]", order)
		}
		b.release(3)

		// Nearly full again: a waiter with a deadline gives up, and the one
		// queued behind it gets in.
		if err := b.acquire(context.Background(), 8); err != nil {
			t.Fatal(err)
		}
		gaveUp := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			gaveUp <- b.acquire(ctx, 5)
		}()
		synctest.Wait()
		go func() {
			if b.acquire(context.Background(), 1) == nil {
				got <- 1
			}
		}()
		synctest.Wait()
		if len(got) != 0 {
			t.Fatal("a request overtook the queue")
		}
		if err := <-gaveUp; err == nil {
			t.Fatal("acquire over the budget did not give up at its deadline")
		}
		if n := <-got; n != 1 {
			t.Fatalf("got %d", n)
		}
		if err := b.acquire(context.Background(), 11); err == nil {
			t.Fatal("a request larger than the whole budget must be refused, not wait forever")
		}
	})
}
