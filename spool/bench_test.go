package spool

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkIngest measures span ingest with group commits (64 spans per
// transaction, fsync on) — the target is ≥ 50k spans/s.
func BenchmarkIngest(b *testing.B) {
	for _, per := range []int{1, 64} {
		b.Run(map[int]string{1: "1-per-tx", 64: "64-per-tx"}[per], func(b *testing.B) {
			s, err := Open(filepath.Join(b.TempDir(), "spool.db"), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			span := bytes.Repeat([]byte("x"), 600)
			res := bytes.Repeat([]byte("r"), 200)
			b.SetBytes(int64(len(span)))
			b.ResetTimer()
			for i := 0; i < b.N; i += per {
				_ = s.Update(func(tx *Tx) error {
					for j := 0; j < per; j++ {
						if err := tx.Enqueue(res, span, time.Now()); err != nil {
							return err
						}
					}
					return nil
				})
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "spans/s")
		})
	}
}

// BenchmarkPeekAck measures the spool side of export: read a batch, delete it.
func BenchmarkPeekAck(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "spool.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	span := bytes.Repeat([]byte("x"), 600)
	for i := 0; i < b.N; i += 512 {
		_ = s.Update(func(tx *Tx) error {
			for j := 0; j < 512; j++ {
				_ = tx.Enqueue([]byte("r"), span, time.Now())
			}
			return nil
		})
	}
	b.ResetTimer()
	n := 0
	for n < b.N {
		items, _ := s.Peek(512, 4<<20)
		if len(items) == 0 {
			break
		}
		_ = s.Ack(items)
		n += len(items)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "spans/s")
}
