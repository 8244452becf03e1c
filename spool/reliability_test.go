package spool

import (
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// Counter and dead-letter writes used to drop their errors (`_ =` on the
// bucket Put), so a transaction could commit without them and a dead letter
// could go uncounted (DESIGN invariant 4). Each write now fails its
// transaction; a read-only one is the simplest failing case.
func TestCounterAndDeadLetterWriteErrorsAreReturned(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "spool.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	if err := s.Update(func(tx *Tx) error { return tx.Enqueue([]byte("r"), []byte("span"), now) }); err != nil {
		t.Fatal(err)
	}
	items, err := s.Peek(10, 1<<20)
	if err != nil || len(items) != 1 {
		t.Fatalf("peek: %v %d", err, len(items))
	}
	for name, write := range map[string]func(*Tx) error{
		"Add":               func(tx *Tx) error { return tx.Add(CounterBadEvents, 1) },
		"Enqueue":           func(tx *Tx) error { return tx.Enqueue([]byte("r"), []byte("span"), now) },
		"MoveToDeadLetters": func(tx *Tx) error { return tx.MoveToDeadLetters(items, "bad", now) },
		"RecordRejected":    func(tx *Tx) error { return tx.RecordRejected(1, "bad", nil, now) },
	} {
		if err := s.View(write); err == nil {
			t.Errorf("%s in a read-only transaction returned no error: a failed write would be lost", name)
		}
	}
}

// A component still writing when the daemon's shutdown grace ran out
// reached a closed Store, and bbolt dereferenced its nil database: the
// daemon panicked on its way out. Every transaction on a closed Store is
// an error.
func TestClosedStoreRefusesTransactions(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "spool.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for name, run := range map[string]func(func(*Tx) error) error{"Update": s.Update, "Batch": s.Batch, "View": s.View} {
		if err := run(func(*Tx) error { return nil }); !errors.Is(err, ErrClosed) {
			t.Errorf("%s on a closed store: %v, want ErrClosed", name, err)
		}
	}
}
