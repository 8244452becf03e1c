package daemon

import (
	"context"
	"errors"
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
// dead letters for spans refused for their content, deletion only after
// acceptance.
type forwarder struct {
	set    Settings
	log    *slog.Logger
	store  *spool.Store
	writes spoolWrites // store, but for tests that make its writes fail
	exp    exporter

	wake chan struct{} // new spans
	now  chan struct{} // flush: skip the backoff wait

	mu            sync.Mutex
	failures      int
	failingSince  time.Time
	lastOK        bool
	last          exportResult // the latest failure, while failing
	attempts      uint64       // attempts finished
	inflightSince time.Time    // start of the request in flight, if any
	sending       bool         // an attempt is under way: sent, its outcome not yet recorded
}

// spoolWrites are the writes by which spans leave the spool.
type spoolWrites interface {
	Ack(items []spool.Item) error
	MoveToDeadLetters(items []spool.Item, reason string, now time.Time) error
	RecordRejected(count int64, reason string, now time.Time) error
}

func newForwarder(set Settings, store *spool.Store, exp exporter) *forwarder {
	return &forwarder{set: set, log: set.Logger, store: store, writes: store, exp: exp,
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
		f.mu.Lock()
		f.sending = true
		f.mu.Unlock()
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

// attempt is what one export attempt learnt while splitting its batch.
type attempt struct {
	accepted int64         // spans the server took
	refused  []refusedSpan // spans refused for their content, each sent alone
}

type refusedSpan struct {
	item spool.Item
	res  exportResult
}

// send exports items. A request refused for its content is split in halves
// until each refused span is alone. Those spans become dead letters only when
// the server accepted other spans in the same attempt: when it refuses every
// span alike, it cannot read our requests, and the spans stay. Credentials
// and URL errors (401, 403, 404, 405, 407) never split and never dead-letter.
// send returns the failure to report, if any (what was not exported waits
// for the next attempt).
func (f *forwarder) send(ctx context.Context, items []spool.Item) exportResult {
	if _, bad := buildRequest(items); len(bad) > 0 {
		if err := f.writes.MoveToDeadLetters(bad, "undecodable span in the spool", f.set.Now()); err != nil {
			return storageFailure("moving undecodable spans to dead letters", err)
		}
		items = without(items, bad)
		if len(items) == 0 {
			return exportResult{}
		}
	}
	var a attempt
	var res exportResult
	if f.refusingAll() && len(items) > 1 {
		// The last attempt had every span refused on its own: probe with one
		// span before splitting the whole batch again.
		last := len(items) - 1
		res = f.sendPart(ctx, items[last:], &a)
		if res.err == nil && a.accepted > 0 {
			res = f.sendPart(ctx, items[:last], &a)
		}
	} else {
		res = f.sendPart(ctx, items, &a)
	}
	if len(a.refused) == 0 {
		return res
	}
	if a.accepted == 0 {
		if res.err != nil {
			return res
		}
		first := a.refused[0].res
		return exportResult{err: fmt.Errorf("the server refuses every span, even sent on its own (%w); they stay in the spool", first.err),
			status: first.status, refusedAll: true}
	}
	for _, r := range a.refused {
		reason := r.res.message()
		if err := f.writes.MoveToDeadLetters([]spool.Item{r.item}, reason, f.set.Now()); err != nil {
			return storageFailure("moving a refused span to dead letters", err)
		}
		f.log.Warn("server refused a span for its content while accepting others; moved to dead letters", "reason", reason)
	}
	return res
}

// sendPart exports items, splitting them while the server refuses them for
// their content; refused spans alone are noted in a.
func (f *forwarder) sendPart(ctx context.Context, items []spool.Item, a *attempt) exportResult {
	rs, _ := buildRequest(items) // send dropped what does not decode
	res := f.export(ctx, rs)
	if res.err == nil && res.rejected >= int64(len(items)) {
		res.err = fmt.Errorf("partial success rejecting all %d span(s): %s", res.rejected, res.rejectMsg)
		res.refusedAll = true
	}
	switch {
	case res.err == nil:
		// The rejection is recorded before the spans leave the spool, so
		// whoever sees the spool drained (flush) also sees it.
		if res.rejected > 0 {
			f.log.Warn("server accepted the batch partially", "rejected", res.rejected, "message", res.rejectMsg)
			if err := f.writes.RecordRejected(res.rejected, res.rejectMsg, f.set.Now()); err != nil {
				return storageFailure("recording a partial success", err)
			}
		} else if res.rejectMsg != "" {
			f.log.Warn("server accepted the batch with a warning", "message", res.rejectMsg)
		}
		if err := f.writes.Ack(items); err != nil {
			return storageFailure("deleting exported spans", err)
		}
		a.accepted += int64(len(items)) - res.rejected
		return exportResult{}
	case res.kind() == contentRefused:
		if len(items) == 1 {
			a.refused = append(a.refused, refusedSpan{items[0], res})
			return exportResult{}
		}
		mid := len(items) / 2
		if r := f.sendPart(ctx, items[:mid], a); r.err != nil {
			return r
		}
		return f.sendPart(ctx, items[mid:], a)
	default:
		return res
	}
}

// export sends one request, noting it in flight for health.
func (f *forwarder) export(ctx context.Context, rs []*tracepb.ResourceSpans) exportResult {
	f.mu.Lock()
	f.inflightSince = f.set.Now()
	f.mu.Unlock()
	res := f.exp.export(ctx, rs)
	f.mu.Lock()
	f.inflightSince = time.Time{}
	f.mu.Unlock()
	return res
}

// storageFailure is an attempt that failed on the spool rather than the
// server: nothing leaves the spool, and the attempt is retried with backoff.
func storageFailure(what string, err error) exportResult {
	return exportResult{err: fmt.Errorf("spool write failed while %s: %w", what, err)}
}

func (f *forwarder) refusingAll() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.lastOK && f.last.refusedAll
}

func (f *forwarder) succeeded() {
	f.mu.Lock()
	wasFailing := f.failures > 0
	f.failures = 0
	f.failingSince = time.Time{}
	f.lastOK = true
	f.last = exportResult{}
	f.attempts++
	f.mu.Unlock()
	if wasFailing {
		f.log.Info("exports work again")
		if err := f.store.SetLastError("", time.Time{}); err != nil {
			f.log.Error("clearing the last export error in the spool", "err", err)
		}
	}
	f.mu.Lock()
	f.sending = false
	f.mu.Unlock()
}

// failed records a failed attempt and returns the wait before the next one.
// An attempt forced by flush does not lengthen the backoff: a user retrying
// by hand must not push the automatic retries further away.
func (f *forwarder) failed(res exportResult, forced bool) time.Duration {
	f.mu.Lock()
	f.sending = false
	if !forced || f.failures == 0 {
		f.failures++
	}
	n := f.failures
	if f.failingSince.IsZero() {
		f.failingSince = f.set.Now()
	}
	f.lastOK = false
	f.last = res
	f.attempts++
	f.mu.Unlock()
	msg := res.message()
	delay := f.set.ExportBackoff.delay(n, res.retryAfter)
	f.log.Warn("export failed; spans stay in the spool", "attempt", n, "retry_in", delay.Round(time.Millisecond), "err", msg, "hint", res.hint())
	err := f.store.Update(func(t *spool.Tx) error {
		if err := t.Add(spool.CounterFailed, 1); err != nil {
			return err
		}
		return t.SetLastError(msg, f.set.Now())
	})
	if err != nil {
		f.log.Error("recording a failed export in the spool", "err", err)
	}
	return delay
}

// exportHealth is what status, flush and the hooks' warning say of exports.
type exportHealth struct {
	OK           bool
	FailingSince time.Time
	Status       int    // HTTP status of the latest failure (0: no answer)
	Message      string // the latest failure
	Hint         string // what to do about it, when retrying will not do
	// Refused: the server refuses our requests (credentials, URL, or every
	// span alike); waiting alone will not fix it.
	Refused  bool
	Attempts uint64 // attempts finished so far
}

// health reports whether the latest attempt failed, since when and why. A
// request in flight for longer than the export timeout counts as failing.
func (f *forwarder) health() exportHealth {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := exportHealth{OK: f.lastOK, FailingSince: f.failingSince, Attempts: f.attempts}
	if !f.lastOK {
		h.Status, h.Message, h.Hint = f.last.status, f.last.message(), f.last.hint()
		h.Refused = f.last.refusedAll || f.last.kind() == endpointRefused
	}
	if !f.inflightSince.IsZero() {
		if d := f.set.Now().Sub(f.inflightSince); d > f.set.ExportTimeout {
			h.OK, h.Status, h.Refused = false, 0, false
			if h.FailingSince.IsZero() {
				h.FailingSince = f.inflightSince
			}
			h.Message = fmt.Sprintf("an export has waited %s for an answer (timeout %s)", roundWait(d), f.set.ExportTimeout)
			h.Hint = "the server or a proxy holds the connection without answering: check that it is up and reachable"
		}
	}
	return h
}

// roundWait shortens a wait for a message: whole seconds, or milliseconds
// below ten seconds.
func roundWait(d time.Duration) time.Duration {
	if d < 10*time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Second)
}

// flushRetryEvery bounds the attempts a waiting flush forces while the
// server keeps failing.
const flushRetryEvery = time.Second

// flush exports everything queued now, skipping any backoff wait, and waits
// until it is accepted (or dead-lettered) or ctx ends. It gives up at once
// when the server refuses our requests (credentials, URL, every span).
func (f *forwarder) flush(ctx context.Context) error {
	target := f.store.LastSeq()
	start := f.health().Attempts
	var kicked time.Time
	for {
		// Drained, and the attempt that drained it recorded (the last
		// error cleared): what status says next agrees with the flush.
		if first := f.store.FirstSeq(); (first == 0 || first > target) && !f.isSending() {
			return nil
		}
		h := f.health()
		if h.Refused && h.Attempts > start {
			return f.waitingError(h)
		}
		if now := time.Now(); now.Sub(kicked) >= flushRetryEvery {
			f.kick() // skip the backoff wait, at most once per flushRetryEvery
			kicked = now
		}
		select {
		case <-ctx.Done():
			return f.waitingError(f.health())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (f *forwarder) isSending() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sending
}

// waitingError says what a flush leaves waiting, and why.
func (f *forwarder) waitingError(h exportHealth) error {
	msg := "span(s) still waiting"
	if st, err := f.store.Stats(); err == nil {
		msg = fmt.Sprintf("%d %s", st.Depth, msg)
	}
	if h.Message != "" {
		msg += "; last export error: " + h.Message
	}
	if !h.FailingSince.IsZero() {
		msg += fmt.Sprintf(" (failing since %s)", h.FailingSince.Format(time.RFC3339))
	}
	if h.Hint != "" {
		msg += "\nhint: " + h.Hint
	}
	return errors.New(msg)
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
