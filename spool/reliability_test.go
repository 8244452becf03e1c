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

// A component still writing when the daemon's shutdown gave up waiting for
// it (a session actor on a loaded machine) used to crash the daemon on its
// way out: the closed spool's transactions dereferenced a nil database.
// They now fail with ErrClosed.
func TestTransactionsAfterCloseFailCleanly(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "spool.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	noop := func(*Tx) error { return nil }
	for name, run := range map[string]func() error{
		"Update":         func() error { return s.Update(noop) },
		"Batch":          func() error { return s.Batch(noop) },
		"View":           func() error { return s.View(noop) },
		"CompactIfLarge": func() error { _, err := s.CompactIfLarge(0); return err },
	} {
		if err := run(); !errors.Is(err, ErrClosed) {
			t.Errorf("%s on a closed spool: %v, want ErrClosed", name, err)
		}
	}
}
