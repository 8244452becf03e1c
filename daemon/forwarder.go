package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/spool"
)

// Backoff is the exponential backoff with full jitter used between failed
// export attempts (a server's Retry-After wins when it asks for longer).
type Backoff struct {
	Initial time.Duration // 1s
	Max     time.Duration // 5m
}

func (b Backoff) withDefaults() Backoff {
	if b.Initial <= 0 {
		b.Initial = time.Second
	}
	if b.Max <= 0 {
		b.Max = 5 * time.Minute
	}
	return b
}

// delay is the wait before attempt n+1 after n consecutive failures.
func (b Backoff) delay(n int, retryAfter time.Duration) time.Duration {
	d := b.Initial
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	d = d/2 + rand.N(d/2+1) // jitter in [d/2, d]
	if retryAfter > d {
		d = min(retryAfter, 30*time.Minute)
	}
	return d
}

// forwarder moves spans from the spool to the server: batches, backoff,
// dead letters for permanent rejections, deletion only after acceptance.
type forwarder struct {
	set   Settings
	log   *slog.Logger
	store *spool.Store
	exp   exporter

	wake chan struct{} // new spans
	now  chan struct{} // flush: skip the backoff wait

	mu           sync.Mutex
	failures     int
	failingSince time.Time
	lastAttempt  time.Time
	lastOK       bool
}

func newForwarder(set Settings, store *spool.Store, exp exporter) *forwarder {
	return &forwarder{set: set, log: set.Logger, store: store, exp: exp,
		wake: make(chan struct{}, 1), now: make(chan struct{}, 1), lastOK: true}
}

func (f *forwarder) notify() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *forwarder) kick() {
	select {
	case f.now <- struct{}{}:
	default:
	}
	f.notify()
}

func (f *forwarder) close() { f.exp.close() }

func (f *forwarder) run(ctx context.Context) {
	forced := false // this attempt was asked for by flush, ahead of the backoff
	for {
		if ctx.Err() != nil {
			return
		}
		items, err := f.store.Peek(f.set.ExportBatch, f.set.ExportMaxBytes)
		if err != nil {
			f.log.Error("reading the spool", "err", err)
		}
		if len(items) == 0 {
			f.compact()
			select {
			case <-ctx.Done():
				return
			case <-f.wake:
			case <-f.now:
			case <-time.After(5 * time.Second):
			}
			continue
		}
		res := f.send(ctx, items)
		if res.err == nil {
			f.succeeded()
			forced = false
			continue
		}
		if ctx.Err() != nil {
			return
		}
		delay := f.failed(res, forced)
		forced = false
		select {
		case <-ctx.Done():
			return
		case <-f.now:
			forced = true
		case <-time.After(delay):
		}
	}
}

// send exports items; a permanently rejected batch is split in halves until
// the bad span is isolated and dead-lettered. It returns the first transient
// failure, if any (the rest of the batch then waits for the next attempt).
func (f *forwarder) send(ctx context.Context, items []spool.Item) exportResult {
	rs, bad := buildRequest(items)
	if len(bad) > 0 {
		_ = f.store.MoveToDeadLetters(bad, "undecodable span in the spool", f.set.Now())
		items = without(items, bad)
		if len(items) == 0 {
			return exportResult{}
		}
	}
	res := f.exp.export(ctx, rs)
	f.mu.Lock()
	f.lastAttempt = f.set.Now()
	f.mu.Unlock()
	switch {
	case res.err == nil:
		// The rejection is recorded before the spans leave the spool, so
		// whoever sees the spool drained (flush) also sees it.
		if res.rejected > 0 || res.rejectMsg != "" {
			f.log.Warn("server accepted the batch partially", "rejected", res.rejected, "message", res.rejectMsg)
			_ = f.store.RecordRejected(res.rejected, res.rejectMsg, f.set.Now())
		}
		if err := f.store.Ack(items); err != nil {
			f.log.Error("deleting exported spans", "err", err)
		}
		return exportResult{}
	case res.permanent():
		if len(items) == 1 {
			reason := fmt.Sprintf("HTTP %d: %v", res.status, res.err)
			f.log.Warn("server rejected a span for good; moved to dead letters", "reason", reason)
			_ = f.store.MoveToDeadLetters(items, reason, f.set.Now())
			return exportResult{}
		}
		mid := len(items) / 2
		if r := f.send(ctx, items[:mid]); r.err != nil {
			return r
		}
		return f.send(ctx, items[mid:])
	default:
		return res
	}
}

func (f *forwarder) succeeded() {
	f.mu.Lock()
	wasFailing := f.failures > 0
	f.failures = 0
	f.failingSince = time.Time{}
	f.lastOK = true
	f.mu.Unlock()
	if wasFailing {
		f.log.Info("exports work again")
		_ = f.store.SetLastError("", time.Time{})
	}
}

// failed records a failed attempt and returns the wait before the next one.
// An attempt forced by flush does not lengthen the backoff: a user retrying
// by hand must not push the automatic retries further away.
func (f *forwarder) failed(res exportResult, forced bool) time.Duration {
	f.mu.Lock()
	if !forced || f.failures == 0 {
		f.failures++
	}
	n := f.failures
	if f.failingSince.IsZero() {
		f.failingSince = f.set.Now()
	}
	f.lastOK = false
	f.mu.Unlock()
	msg := res.err.Error()
	if res.status != 0 {
		msg = fmt.Sprintf("HTTP %d: %s", res.status, msg)
	}
	delay := f.set.ExportBackoff.delay(n, res.retryAfter)
	f.log.Warn("export failed; spans stay in the spool", "attempt", n, "retry_in", delay.Round(time.Millisecond), "err", msg)
	if err := f.store.Update(func(t *spool.Tx) error { return t.Add(spool.CounterFailed, 1) }); err != nil {
		f.log.Error("counting a failed export", "err", err)
	}
	_ = f.store.SetLastError(msg, f.set.Now())
	return delay
}

// health reports whether the latest attempt failed and since when.
func (f *forwarder) health() (ok bool, failingSince time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastOK, f.failingSince
}

// flushRetryEvery bounds the attempts a waiting flush forces while the
// server keeps failing.
const flushRetryEvery = time.Second

// flush exports everything queued now, skipping any backoff wait, and waits
// until it is accepted (or dead-lettered) or ctx ends.
func (f *forwarder) flush(ctx context.Context) error {
	target := f.store.LastSeq()
	var kicked time.Time
	for {
		first := f.store.FirstSeq()
		if first == 0 || first > target {
			return nil
		}
		if now := time.Now(); now.Sub(kicked) >= flushRetryEvery {
			f.kick() // skip the backoff wait, at most once per flushRetryEvery
			kicked = now
		}
		select {
		case <-ctx.Done():
			st, _ := f.store.Stats()
			_, since := f.health()
			msg := fmt.Sprintf("%d span(s) still waiting", st.Depth)
			if st.LastError != nil {
				msg += "; last export error: " + st.LastError.Message
			}
			if !since.IsZero() {
				msg += fmt.Sprintf(" (failing since %s)", since.Format(time.RFC3339))
			}
			return fmt.Errorf("%s", msg)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// compact shrinks the bbolt file after a large drain.
func (f *forwarder) compact() {
	if done, err := f.store.CompactIfLarge(64 << 20); err != nil {
		f.log.Warn("compacting the spool", "err", err)
	} else if done {
		f.log.Info("compacted the spool after a large drain")
	}
}

// buildRequest groups spans by resource into OTLP ResourceSpans.
func buildRequest(items []spool.Item) ([]*tracepb.ResourceSpans, []spool.Item) {
	var out []*tracepb.ResourceSpans
	var bad []spool.Item
	byRes := map[string]*tracepb.ScopeSpans{}
	for _, it := range items {
		sp := &tracepb.Span{}
		if err := proto.Unmarshal(it.Span, sp); err != nil {
			bad = append(bad, it)
			continue
		}
		ss, ok := byRes[string(it.Resource)]
		if !ok {
			res := &resourcepb.Resource{}
			if err := proto.Unmarshal(it.Resource, res); err != nil {
				bad = append(bad, it)
				continue
			}
			ss = &tracepb.ScopeSpans{Scope: &commonpb.InstrumentationScope{Name: genai.ScopeName}}
			out = append(out, &tracepb.ResourceSpans{Resource: res, ScopeSpans: []*tracepb.ScopeSpans{ss}})
			byRes[string(it.Resource)] = ss
		}
		ss.Spans = append(ss.Spans, sp)
	}
	return out, bad
}

func without(items, drop []spool.Item) []spool.Item {
	skip := map[uint64]bool{}
	for _, d := range drop {
		skip[d.Seq] = true
	}
	var out []spool.Item
	for _, it := range items {
		if !skip[it.Seq] {
			out = append(out, it)
		}
	}
	return out
}
