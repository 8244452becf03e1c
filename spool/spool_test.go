package spool

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func openTemp(t *testing.T, opts Options) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "spool.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func enqueue(t *testing.T, s *Store, n int, size int) {
	t.Helper()
	err := s.Update(func(tx *Tx) error {
		for i := 0; i < n; i++ {
			if err := tx.Enqueue([]byte("res"), bytes.Repeat([]byte{byte(i)}, size), time.Unix(int64(i), 0)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestQueuePeekAckKeepsOrderAndCounts(t *testing.T) {
	s := openTemp(t, Options{NoSync: true})
	enqueue(t, s, 10, 10)
	items, err := s.Peek(4, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 4 || items[0].Seq != 1 || items[3].Seq != 4 || string(items[0].Resource) != "res" {
		t.Fatalf("peek = %+v", items)
	}
	if err := s.Ack(items); err != nil {
		t.Fatal(err)
	}
	st, _ := s.Stats()
	if st.Depth != 6 || st.Counters[CounterExported] != 4 || st.Counters[CounterSpans] != 10 {
		t.Fatalf("stats = %+v", st)
	}
	if st.Bytes != 6*(itemHeader+10) {
		t.Fatalf("bytes = %d", st.Bytes)
	}
	if got := s.FirstSeq(); got != 5 {
		t.Fatalf("first seq = %d", got)
	}
	if got := s.LastSeq(); got != 10 {
		t.Fatalf("last seq = %d", got)
	}
}

func TestPeekHonoursByteCapButReturnsAtLeastOne(t *testing.T) {
	s := openTemp(t, Options{NoSync: true})
	enqueue(t, s, 3, 1000)
	items, _ := s.Peek(10, 10)
	if len(items) != 1 {
		t.Fatalf("got %d items, want 1", len(items))
	}
	items, _ = s.Peek(10, 2*(1000+itemHeader))
	if len(items) != 2 {
		t.Fatalf("got %d items, want 2", len(items))
	}
}

func TestSizeCapDropsOldestAndCounts(t *testing.T) {
	s := openTemp(t, Options{NoSync: true, MaxBytes: 5 * (100 + itemHeader)})
	enqueue(t, s, 8, 100)
	st, _ := s.Stats()
	if st.Depth != 5 || st.Counters[CounterDropped] != 3 {
		t.Fatalf("depth=%d dropped=%d", st.Depth, st.Counters[CounterDropped])
	}
	if s.FirstSeq() != 4 {
		t.Fatalf("oldest kept = %d, want 4", s.FirstSeq())
	}
}

func TestEventsDedupByID(t *testing.T) {
	s := openTemp(t, Options{NoSync: true})
	now := time.Now()
	var news []bool
	for _, id := range []string{"a", "b", "a"} {
		err := s.Update(func(tx *Tx) error {
			_, isNew, err := tx.PutEvent(id, []byte(id), now)
			news = append(news, isNew)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if fmt.Sprint(news) != "[true true false]" {
		t.Fatalf("new = %v", news)
	}
	var pend []uint64
	_ = s.View(func(tx *Tx) error {
		tx.Events(func(seq uint64, _ []byte) { pend = append(pend, seq) })
		return nil
	})
	if len(pend) != 2 {
		t.Fatalf("pending = %d", len(pend))
	}
	_ = s.Update(func(tx *Tx) error { return tx.DeleteEvent(pend[0]) })
	// Deleting the pending copy must not forget the id: a late inbox copy
	// of an already-processed event is still a duplicate.
	_ = s.Update(func(tx *Tx) error {
		_, isNew, _ := tx.PutEvent("a", nil, now)
		if isNew {
			t.Error("event a accepted twice")
		}
		return nil
	})
	st, _ := s.Stats()
	if st.Counters[CounterDupEvents] != 2 {
		t.Fatalf("dup counter = %d", st.Counters[CounterDupEvents])
	}
	if n, _ := s.PruneSeen(now.Add(time.Second)); n != 2 {
		t.Fatalf("pruned %d", n)
	}
}

func TestDeadLettersMoveRetryDrop(t *testing.T) {
	s := openTemp(t, Options{NoSync: true})
	enqueue(t, s, 3, 5)
	items, _ := s.Peek(1, 1<<20)
	if err := s.MoveToDeadLetters(items, "HTTP 400: bad span", time.Now()); err != nil {
		t.Fatal(err)
	}
	batch := []SpanRef{{TraceID: "01", SpanID: "0a", Name: "a"}, {TraceID: "01", SpanID: "0b", Name: "b"}, {TraceID: "02", SpanID: "0c", Name: "c"}}
	if err := s.RecordRejected(2, "too old", batch, time.Now()); err != nil {
		t.Fatal(err)
	}
	dls, _ := s.DeadLetters(10)
	if len(dls) != 2 || dls[0].Reason != "HTTP 400: bad span" || len(dls[0].Span) != 5 {
		t.Fatalf("dead letters = %+v", dls)
	}
	if !slices.Equal(dls[1].Candidates, batch) || !strings.Contains(dls[1].Reason, "2 of 3") {
		t.Fatalf("partial success dead letter = %+v: want the request's spans", dls[1])
	}
	st, _ := s.Stats()
	if st.Depth != 2 || st.Counters[CounterDeadLettered] != 3 {
		t.Fatalf("stats = %+v", st)
	}
	n, err := s.RetryDeadLetters(time.Now())
	if err != nil || n != 1 {
		t.Fatalf("retry = %d, %v", n, err)
	}
	if st, _ := s.Stats(); st.Depth != 3 || st.DeadLetters != 0 {
		t.Fatalf("after retry %+v", st)
	}
	_ = s.RecordRejected(1, "x", nil, time.Now())
	if n, _ := s.DropDeadLetters(); n != 1 {
		t.Fatalf("dropped %d", n)
	}
}

func TestOffsetsAndSessionsPersistAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Update(func(tx *Tx) error {
		_ = tx.SetOffset("/a.jsonl", []byte(`{"offset":42}`))
		return tx.SetSession("claude\x00s1", []byte("state"))
	})
	enqueue(t, s, 2, 3)
	s.Close()
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_ = s.View(func(tx *Tx) error {
		if got := string(tx.Offset("/a.jsonl")); got != `{"offset":42}` {
			t.Errorf("offset = %q", got)
		}
		if got := string(tx.Session("claude\x00s1")); got != "state" {
			t.Errorf("session = %q", got)
		}
		return nil
	})
	if st, _ := s.Stats(); st.Depth != 2 {
		t.Fatalf("depth after reopen = %d", st.Depth)
	}
}

func TestSecondOpenIsRefusedClearly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = Open(path, Options{LockTimeout: 50 * time.Millisecond})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
}

func TestNewerSchemaIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.db")
	s, _ := Open(path, Options{})
	_ = s.Update(func(tx *Tx) error { return tx.tx.Bucket(bMeta).Put(kSchema, u64(SchemaVersion+1)) })
	s.Close()
	if _, err := Open(path, Options{}); err == nil {
		t.Fatal("opened a spool with a newer schema")
	}
}

func TestCompactAfterLargeDrainShrinksFile(t *testing.T) {
	s := openTemp(t, Options{NoSync: true})
	for i := 0; i < 20; i++ {
		enqueue(t, s, 100, 4096)
	}
	for {
		items, _ := s.Peek(500, 8<<20)
		if len(items) == 0 {
			break
		}
		_ = s.Ack(items)
	}
	before, _ := s.Stats()
	done, err := s.CompactIfLarge(1 << 20)
	if err != nil || !done {
		t.Fatalf("compact = %v, %v", done, err)
	}
	after, _ := s.Stats()
	if after.FileBytes >= before.FileBytes {
		t.Fatalf("file %d -> %d bytes", before.FileBytes, after.FileBytes)
	}
	if after.Counters[CounterExported] != 2000 {
		t.Fatalf("counters lost in compaction: %+v", after.Counters)
	}
	enqueue(t, s, 1, 1) // still usable
}

func TestBacklogIsTheQueuedBytesAndTheExportState(t *testing.T) {
	s := openTemp(t, Options{NoSync: true})
	now := time.Now()
	if err := s.Update(func(tx *Tx) error {
		for range 3 {
			if err := tx.Enqueue([]byte("res"), make([]byte, 100), now); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	st, _ := s.Stats()
	n, failing, err := s.Backlog()
	if err != nil || n != st.Bytes || n < 300 || failing {
		t.Fatalf("backlog %d failing %v err %v; stats say %d bytes", n, failing, err, st.Bytes)
	}
	if err := s.SetLastError("refused", now); err != nil {
		t.Fatal(err)
	}
	if _, failing, _ := s.Backlog(); !failing {
		t.Fatal("a recorded export error is not failing")
	}
	if err := s.SetLastError("", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, failing, _ := s.Backlog(); failing {
		t.Fatal("still failing after the error was cleared")
	}
}
