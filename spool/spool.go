// Package spool is the daemon's durable store: one bbolt file holding the
// queue of encoded OTLP spans awaiting export, pending hook events, transcript
// offsets, open-session state, dead letters and counters.
//
// It knows only bytes: encoded spans and resources, opaque offsets and state.
// Only the daemon opens the file (bbolt holds an exclusive lock).
//
// Every write is a method of Tx, so it joins the caller's transaction. The
// Store methods that write (Ack, MoveToDeadLetters, ...) each open their own
// write transaction and must never be called while one is open on the same
// goroutine: bbolt allows one writer, so that nests and deadlocks forever.
// Code that runs inside Update or Batch gets a *Tx and nothing else.
package spool

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is stored in the file; a newer file is refused loudly.
const SchemaVersion = 1

var (
	bMeta      = []byte("meta")
	bCounters  = []byte("counters")
	bQueue     = []byte("queue")
	bResources = []byte("resources")
	bEvents    = []byte("events")
	bSeen      = []byte("seen")
	bOffsets   = []byte("offsets")
	bSessions  = []byte("sessions")
	bDead      = []byte("deadletters")

	kSchema     = []byte("schema")
	kQueueBytes = []byte("queue_bytes")
	kLastError  = []byte("last_error")
)

// Counter names kept in the counters bucket (status shows them).
const (
	CounterExported         = "exported"          // spans accepted by the server
	CounterFailed           = "failed"            // failed export attempts
	CounterDeadLettered     = "dead_lettered"     // spans rejected for good
	CounterDropped          = "dropped"           // spans dropped by the size cap
	CounterEvents           = "events"            // hook events stored
	CounterDupEvents        = "dup_events"        // hook events seen twice and dropped
	CounterBadEvents        = "bad_events"        // malformed hook events or inbox lines
	CounterSpans            = "spans"             // spans enqueued
	CounterSkippedLines     = "skipped_lines"     // transcript lines skipped (malformed, oversized)
	CounterTranscriptResets = "transcript_resets" // transcripts truncated or replaced while tailed
	CounterBadFrames        = "bad_frames"        // malformed socket frames
)

// ErrLocked means another daemon holds the spool.
var ErrLocked = errors.New("the spool is locked by another weave-agentd daemon")

// ErrClosed is what a transaction asked of a closed Store returns (a
// component still running when the daemon's shutdown grace ran out).
var ErrClosed = errors.New("the spool is closed")

// Options tunes a Store.
type Options struct {
	MaxBytes    int64         // queue size cap; oldest spans dropped first (0: 1 GiB)
	LockTimeout time.Duration // how long to wait for the file lock (0: 100ms)
	NoSync      bool          // tests and benchmarks only
}

// Store is the spool. Its methods are safe for concurrent use.
type Store struct {
	path string
	opts Options

	mu sync.RWMutex // held for writing only while the file is swapped by Compact
	db *bolt.DB
}

// Open opens (creating if needed, mode 0600) the spool at path.
func Open(path string, opts Options) (*Store, error) {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 1 << 30
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = 100 * time.Millisecond
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("spool folder: %w", err)
	}
	s := &Store{path: path, opts: opts}
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Store) open() error {
	db, err := bolt.Open(s.path, 0o600, &bolt.Options{Timeout: s.opts.LockTimeout, NoSync: s.opts.NoSync, NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return fmt.Errorf("%w (%s)", ErrLocked, s.path)
	}
	if err != nil {
		return fmt.Errorf("open spool %s: %w", s.path, err)
	}
	db.MaxBatchDelay = 500 * time.Microsecond
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bMeta, bCounters, bQueue, bResources, bEvents, bSeen, bOffsets, bSessions, bDead} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bMeta)
		v := meta.Get(kSchema)
		if v == nil {
			return meta.Put(kSchema, u64(SchemaVersion))
		}
		if got := binary.BigEndian.Uint64(v); got != SchemaVersion {
			return fmt.Errorf("spool %s has schema v%d, this weave-agentd understands v%d: upgrade weave-agentd, or move the file away to start afresh", s.path, got, SchemaVersion)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return err
	}
	s.db = db
	return nil
}

// Close closes the file.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return nil
	}
	err := s.db.Close()
	s.db = nil
	return err
}

// Update runs fn in one write transaction: everything fn does commits
// together or not at all (one fsync).
func (s *Store) Update(fn func(*Tx) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return ErrClosed
	}
	return s.db.Update(func(btx *bolt.Tx) error { return fn(&Tx{tx: btx, s: s}) })
}

// Batch is Update for concurrent small writers: bbolt coalesces calls from
// many goroutines into one transaction (group commit). fn may run more than
// once, so it must be idempotent.
func (s *Store) Batch(fn func(*Tx) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return ErrClosed
	}
	return s.db.Batch(func(btx *bolt.Tx) error { return fn(&Tx{tx: btx, s: s}) })
}

// View runs fn in a read transaction.
func (s *Store) View(fn func(*Tx) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return ErrClosed
	}
	return s.db.View(func(btx *bolt.Tx) error { return fn(&Tx{tx: btx, s: s}) })
}

// Tx is one transaction with typed helpers over the buckets.
type Tx struct {
	tx *bolt.Tx
	s  *Store
}

// --- spans -----------------------------------------------------------------

// Item is one queued span.
type Item struct {
	Seq      uint64
	Enqueued time.Time
	Resource []byte // encoded OTLP Resource
	Span     []byte // encoded OTLP Span
}

const itemHeader = 16 // enqueued ns + resource id

// Enqueue queues one encoded span under an encoded resource. When the queue
// exceeds the size cap, the oldest spans are dropped and counted.
func (t *Tx) Enqueue(resource, span []byte, now time.Time) error {
	rid := resourceID(resource)
	res := t.tx.Bucket(bResources)
	if res.Get(u64(rid)) == nil {
		if err := res.Put(u64(rid), resource); err != nil {
			return err
		}
	}
	q := t.tx.Bucket(bQueue)
	seq, err := q.NextSequence()
	if err != nil {
		return err
	}
	v := make([]byte, itemHeader+len(span))
	binary.BigEndian.PutUint64(v[0:8], uint64(now.UnixNano()))
	binary.BigEndian.PutUint64(v[8:16], rid)
	copy(v[itemHeader:], span)
	if err := q.Put(u64(seq), v); err != nil {
		return err
	}
	total, err := t.addMeta(kQueueBytes, int64(len(v)))
	if err != nil {
		return err
	}
	if err := t.Add(CounterSpans, 1); err != nil {
		return err
	}
	if total > t.s.opts.MaxBytes {
		return t.dropOldest(total - t.s.opts.MaxBytes)
	}
	return nil
}

func (t *Tx) dropOldest(excess int64) error {
	q := t.tx.Bucket(bQueue)
	c := q.Cursor()
	var freed, n int64
	for k, v := c.First(); k != nil && freed < excess; k, v = c.Next() {
		freed += int64(len(v))
		n++
		if err := c.Delete(); err != nil {
			return err
		}
	}
	if _, err := t.addMeta(kQueueBytes, -freed); err != nil {
		return err
	}
	return t.Add(CounterDropped, n)
}

// Peek returns up to max queued spans (and at most maxBytes of span data,
// but always at least one), oldest first, without removing them.
func (s *Store) Peek(max, maxBytes int) ([]Item, error) {
	var items []Item
	err := s.View(func(t *Tx) error {
		res := t.tx.Bucket(bResources)
		c := t.tx.Bucket(bQueue).Cursor()
		size := 0
		for k, v := c.First(); k != nil && len(items) < max; k, v = c.Next() {
			if len(v) < itemHeader {
				continue
			}
			if size > 0 && size+len(v) > maxBytes {
				break
			}
			size += len(v)
			items = append(items, Item{
				Seq:      binary.BigEndian.Uint64(k),
				Enqueued: time.Unix(0, int64(binary.BigEndian.Uint64(v[0:8]))),
				Resource: bytes.Clone(res.Get(v[8:16])),
				Span:     bytes.Clone(v[itemHeader:]),
			})
		}
		return nil
	})
	return items, err
}

// Backlog is the size of the span data waiting for export and whether the
// latest export failed (a last error is recorded): a cheap read of two
// meta keys, for producers that pace themselves by the exporter.
func (s *Store) Backlog() (bytes int64, failing bool, err error) {
	err = s.View(func(t *Tx) error {
		meta := t.tx.Bucket(bMeta)
		bytes = getI64(meta.Get(kQueueBytes))
		failing = meta.Get(kLastError) != nil
		return nil
	})
	return bytes, failing, err
}

// Ack removes exported spans and counts them.
func (s *Store) Ack(items []Item) error {
	return s.Update(func(t *Tx) error {
		n, err := t.remove(items)
		if err != nil {
			return err
		}
		return t.Add(CounterExported, n)
	})
}

func (t *Tx) remove(items []Item) (int64, error) {
	q := t.tx.Bucket(bQueue)
	var freed, n int64
	for _, it := range items {
		k := u64(it.Seq)
		if v := q.Get(k); v != nil {
			freed += int64(len(v))
			n++
			if err := q.Delete(k); err != nil {
				return n, err
			}
		}
	}
	if _, err := t.addMeta(kQueueBytes, -freed); err != nil {
		return n, err
	}
	return n, nil
}

// DeadLetter is a span the server rejected for good, kept with the reason.
type DeadLetter struct {
	Seq      uint64    `json:"seq"`
	Time     time.Time `json:"time"`
	Reason   string    `json:"reason"`
	Resource []byte    `json:"resource,omitempty"`
	Span     []byte    `json:"span,omitempty"`
	// Candidates: a partial success names no span, so its dead letter
	// names the spans of the request, among which are the rejected ones.
	Candidates []SpanRef `json:"candidates,omitempty"`
}

// SpanRef names a span: its ids (hex) and name.
type SpanRef struct {
	TraceID string `json:"trace_id"`
	SpanID  string `json:"span_id"`
	Name    string `json:"name,omitempty"`
}

// MoveToDeadLetters moves items out of the queue with reason, in its own
// write transaction.
func (s *Store) MoveToDeadLetters(items []Item, reason string, now time.Time) error {
	return s.Update(func(t *Tx) error { return t.MoveToDeadLetters(items, reason, now) })
}

// MoveToDeadLetters moves items out of the queue with reason.
func (t *Tx) MoveToDeadLetters(items []Item, reason string, now time.Time) error {
	for _, it := range items {
		if err := t.putDeadLetter(DeadLetter{Time: now, Reason: reason, Resource: it.Resource, Span: it.Span}); err != nil {
			return err
		}
	}
	n, err := t.remove(items)
	if err != nil {
		return err
	}
	return t.Add(CounterDeadLettered, n)
}

// RecordRejected keeps a dead letter for spans the server reported rejected
// in an OTLP partial success, in its own write transaction.
func (s *Store) RecordRejected(count int64, reason string, candidates []SpanRef, now time.Time) error {
	return s.Update(func(t *Tx) error { return t.RecordRejected(count, reason, candidates, now) })
}

// RecordRejected keeps a dead letter for spans the server reported rejected
// in an OTLP partial success, which names no span: the reason, the count,
// and the spans of the request (candidates), count of which were rejected.
func (t *Tx) RecordRejected(count int64, reason string, candidates []SpanRef, now time.Time) error {
	msg := fmt.Sprintf("partial success: %d span(s) rejected: %s", count, reason)
	if len(candidates) > 0 {
		msg = fmt.Sprintf("partial success: %d of %d span(s) rejected, the server did not say which (the %d are listed): %s", count, len(candidates), len(candidates), reason)
	}
	if err := t.putDeadLetter(DeadLetter{Time: now, Reason: msg, Candidates: candidates}); err != nil {
		return err
	}
	return t.Add(CounterDeadLettered, count)
}

func (t *Tx) putDeadLetter(dl DeadLetter) error {
	d := t.tx.Bucket(bDead)
	seq, err := d.NextSequence()
	if err != nil {
		return err
	}
	dl.Seq = seq
	b, err := json.Marshal(dl)
	if err != nil {
		return err
	}
	return d.Put(u64(seq), b)
}

// DeadLetters lists up to max dead letters, oldest first.
func (s *Store) DeadLetters(max int) ([]DeadLetter, error) {
	var out []DeadLetter
	err := s.View(func(t *Tx) error {
		c := t.tx.Bucket(bDead).Cursor()
		for k, v := c.First(); k != nil && len(out) < max; k, v = c.Next() {
			var dl DeadLetter
			if json.Unmarshal(v, &dl) == nil {
				out = append(out, dl)
			}
		}
		return nil
	})
	return out, err
}

// RetryDeadLetters puts every dead letter holding a span back on the queue.
func (s *Store) RetryDeadLetters(now time.Time) (int, error) {
	n := 0
	err := s.Update(func(t *Tx) error {
		c := t.tx.Bucket(bDead).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var dl DeadLetter
			if json.Unmarshal(v, &dl) == nil && len(dl.Span) > 0 {
				if err := t.Enqueue(dl.Resource, dl.Span, now); err != nil {
					return err
				}
				n++
			}
			if err := c.Delete(); err != nil {
				return err
			}
		}
		return nil
	})
	return n, err
}

// DropDeadLetters deletes every dead letter and returns how many there were.
func (s *Store) DropDeadLetters() (int, error) {
	n := 0
	err := s.Update(func(t *Tx) error {
		n = t.tx.Bucket(bDead).Stats().KeyN
		if err := t.tx.DeleteBucket(bDead); err != nil {
			return err
		}
		_, err := t.tx.CreateBucket(bDead)
		return err
	})
	return n, err
}

// LastSeq is the sequence number of the newest queued span (0 if empty).
func (s *Store) LastSeq() uint64 {
	var seq uint64
	_ = s.View(func(t *Tx) error {
		if k, _ := t.tx.Bucket(bQueue).Cursor().Last(); k != nil {
			seq = binary.BigEndian.Uint64(k)
		}
		return nil
	})
	return seq
}

// FirstSeq is the sequence number of the oldest queued span (0 if empty).
func (s *Store) FirstSeq() uint64 {
	var seq uint64
	_ = s.View(func(t *Tx) error {
		if k, _ := t.tx.Bucket(bQueue).Cursor().First(); k != nil {
			seq = binary.BigEndian.Uint64(k)
		}
		return nil
	})
	return seq
}

// --- hook events -----------------------------------------------------------

// PutEvent stores a pending hook event unless its id was seen before; it
// returns the event's sequence number and whether the event is new.
func (t *Tx) PutEvent(id string, ev []byte, now time.Time) (uint64, bool, error) {
	seen := t.tx.Bucket(bSeen)
	if seen.Get([]byte(id)) != nil {
		return 0, false, t.Add(CounterDupEvents, 1)
	}
	if err := seen.Put([]byte(id), u64(uint64(now.UnixNano()))); err != nil {
		return 0, false, err
	}
	evs := t.tx.Bucket(bEvents)
	seq, err := evs.NextSequence()
	if err != nil {
		return 0, false, err
	}
	if err := t.Add(CounterEvents, 1); err != nil {
		return 0, false, err
	}
	return seq, true, evs.Put(u64(seq), ev)
}

// Event returns a stored hook event (nil if none). The bytes are valid only
// inside the transaction.
func (t *Tx) Event(seq uint64) []byte { return t.tx.Bucket(bEvents).Get(u64(seq)) }

// Events calls fn for every stored hook event, in arrival order. The bytes
// are valid only inside the transaction.
func (t *Tx) Events(fn func(seq uint64, ev []byte)) {
	_ = t.tx.Bucket(bEvents).ForEach(func(k, v []byte) error { fn(binary.BigEndian.Uint64(k), v); return nil })
}

// DeleteEvent removes a processed hook event.
func (t *Tx) DeleteEvent(seq uint64) error { return t.tx.Bucket(bEvents).Delete(u64(seq)) }

// PruneSeen forgets event ids older than before.
func (s *Store) PruneSeen(before time.Time) (int, error) {
	n := 0
	err := s.Update(func(t *Tx) error {
		c := t.tx.Bucket(bSeen).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if len(v) == 8 && int64(binary.BigEndian.Uint64(v)) < before.UnixNano() {
				if err := c.Delete(); err != nil {
					return err
				}
				n++
			}
		}
		return nil
	})
	return n, err
}

// --- offsets and sessions ----------------------------------------------------

// Offset returns the saved state of a tailed file (nil if none).
func (t *Tx) Offset(key string) []byte { return bytes.Clone(t.tx.Bucket(bOffsets).Get([]byte(key))) }

// SetOffset saves the state of a tailed file.
func (t *Tx) SetOffset(key string, v []byte) error {
	return t.tx.Bucket(bOffsets).Put([]byte(key), v)
}

// DeleteOffset forgets the state of a tailed file.
func (t *Tx) DeleteOffset(key string) error { return t.tx.Bucket(bOffsets).Delete([]byte(key)) }

// Session returns a session's saved state (nil if none).
func (t *Tx) Session(key string) []byte { return bytes.Clone(t.tx.Bucket(bSessions).Get([]byte(key))) }

// SetSession saves a session's state.
func (t *Tx) SetSession(key string, v []byte) error {
	return t.tx.Bucket(bSessions).Put([]byte(key), v)
}

// DeleteSession forgets a session.
func (t *Tx) DeleteSession(key string) error { return t.tx.Bucket(bSessions).Delete([]byte(key)) }

// Sessions calls fn for every saved session.
func (t *Tx) Sessions(fn func(key string, v []byte)) {
	_ = t.tx.Bucket(bSessions).ForEach(func(k, v []byte) error { fn(string(k), v); return nil })
}

// --- counters and stats --------------------------------------------------------

// Add increments a counter, in the caller's transaction (there is no Store
// method for it: a counter counts something written in the same commit).
func (t *Tx) Add(name string, n int64) error {
	if n == 0 {
		return nil
	}
	b := t.tx.Bucket(bCounters)
	if err := b.Put([]byte(name), i64(getI64(b.Get([]byte(name)))+n)); err != nil {
		return fmt.Errorf("counter %s: %w", name, err)
	}
	return nil
}

func (t *Tx) addMeta(key []byte, n int64) (int64, error) {
	b := t.tx.Bucket(bMeta)
	v := getI64(b.Get(key)) + n
	if v < 0 {
		v = 0
	}
	return v, b.Put(key, i64(v))
}

// SetLastError records the latest export error ("" clears it).
func (s *Store) SetLastError(msg string, at time.Time) error {
	return s.Update(func(t *Tx) error { return t.SetLastError(msg, at) })
}

// SetLastError records the latest export error ("" clears it) in t.
func (t *Tx) SetLastError(msg string, at time.Time) error {
	if msg == "" {
		return t.tx.Bucket(bMeta).Delete(kLastError)
	}
	b, err := json.Marshal(LastError{Message: msg, Time: at})
	if err != nil {
		return err
	}
	return t.tx.Bucket(bMeta).Put(kLastError, b)
}

// LastError is the latest export failure.
type LastError struct {
	Message string    `json:"message"`
	Time    time.Time `json:"time"`
}

// Stats is a snapshot for `status`.
type Stats struct {
	Depth          int64            `json:"depth"`  // spans waiting
	Bytes          int64            `json:"bytes"`  // their size
	Oldest         time.Time        `json:"oldest"` // enqueue time of the oldest
	PendingEvents  int64            `json:"pending_events"`
	DeadLetters    int64            `json:"dead_letters"` // records in the bucket
	Counters       map[string]int64 `json:"counters"`
	LastError      *LastError       `json:"last_error,omitempty"`
	FileBytes      int64            `json:"file_bytes"`
	TrackedFiles   int64            `json:"tracked_files"`
	StoredSessions int64            `json:"stored_sessions"`
}

// Stats reads the counters and queue depth.
func (s *Store) Stats() (Stats, error) {
	st := Stats{Counters: map[string]int64{}}
	err := s.View(func(t *Tx) error {
		q := t.tx.Bucket(bQueue)
		st.Depth = int64(q.Stats().KeyN)
		st.Bytes = getI64(t.tx.Bucket(bMeta).Get(kQueueBytes))
		if k, v := q.Cursor().First(); k != nil && len(v) >= 8 {
			st.Oldest = time.Unix(0, int64(binary.BigEndian.Uint64(v[0:8])))
		}
		st.PendingEvents = int64(t.tx.Bucket(bEvents).Stats().KeyN)
		st.DeadLetters = int64(t.tx.Bucket(bDead).Stats().KeyN)
		st.TrackedFiles = int64(t.tx.Bucket(bOffsets).Stats().KeyN)
		st.StoredSessions = int64(t.tx.Bucket(bSessions).Stats().KeyN)
		_ = t.tx.Bucket(bCounters).ForEach(func(k, v []byte) error {
			st.Counters[string(k)] = getI64(v)
			return nil
		})
		if v := t.tx.Bucket(bMeta).Get(kLastError); v != nil {
			var le LastError
			if json.Unmarshal(v, &le) == nil {
				st.LastError = &le
			}
		}
		st.FileBytes = t.tx.Size()
		return nil
	})
	return st, err
}

// CompactIfLarge rewrites the file when the queue is empty and the file is
// over threshold bytes: bbolt never gives pages back, so a drained spool of
// gigabytes would otherwise stay that large.
func (s *Store) CompactIfLarge(threshold int64) (bool, error) {
	st, err := s.Stats()
	if err != nil || st.Depth > 0 || st.PendingEvents > 0 || st.FileBytes < threshold {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return false, ErrClosed
	}
	tmp := s.path + ".compact"
	_ = os.Remove(tmp)
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		return false, fmt.Errorf("compact: %w", err)
	}
	if err := bolt.Compact(dst, s.db, 64<<20); err != nil {
		dst.Close()
		os.Remove(tmp)
		return false, fmt.Errorf("compact: %w", err)
	}
	if err := dst.Sync(); err != nil {
		dst.Close()
		os.Remove(tmp)
		return false, fmt.Errorf("compact: %w", err)
	}
	dst.Close()
	if err := s.db.Close(); err != nil {
		return false, fmt.Errorf("compact: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return false, errors.Join(fmt.Errorf("compact: %w", err), s.open())
	}
	return true, s.open()
}

// --- encoding helpers -----------------------------------------------------------

func resourceID(b []byte) uint64 {
	h := fnv.New64a()
	h.Write(b)
	return h.Sum64()
}

func u64(n uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, n)
	return b
}

func i64(n int64) []byte { return u64(uint64(n)) }

func getI64(b []byte) int64 {
	if len(b) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(b))
}
