// Package export moves the spool's spans to their destination: the
// forwarder (batches, backoff, dead letters, deletion after acceptance) and
// its exporters, OTLP/HTTP or the local OTLP/JSON file sink.
package export

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/weave-agentd/weave-agentd/config"
	"github.com/weave-agentd/weave-agentd/spool"
)

// Backoff is the exponential backoff with full jitter used between failed
// export attempts (a server's Retry-After wins when it asks for longer).
type Backoff struct {
	Initial time.Duration // 1s
	Max     time.Duration // 5m
}

// WithDefaults fills the zero fields with the production defaults.
func (b Backoff) WithDefaults() Backoff {
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

// Settings are what the export component needs; zero tunables take the
// production defaults.
type Settings struct {
	Logger *slog.Logger
	Now    func() time.Time // nil: time.Now
	// Target is where spans go; no URL: the local file sink in SinkDir.
	Target       config.Target
	Transport    Transport
	SinkDir      string
	SinkMaxBytes int64         // file sink rotation size (64 MiB)
	Batch        int           // spans per request (512)
	MaxBytes     int           // bytes per request before gzip (4 MiB)
	Timeout      time.Duration // one export request, connect to last byte (30s)
	Backoff      Backoff
}

// Transport is the config's part of the HTTP client: a proxy (else
// HTTPS_PROXY/NO_PROXY), a custom CA, a client certificate.
type Transport struct {
	Proxy      string
	CAFile     string
	ClientCert string
	ClientKey  string
}

// TransportOf takes the Transport's fields from the config file.
func TransportOf(c *config.Config) Transport {
	return Transport{Proxy: c.Proxy, CAFile: c.CAFile, ClientCert: c.ClientCert, ClientKey: c.ClientKey}
}

func (set Settings) withDefaults() Settings {
	if set.Logger == nil {
		set.Logger = slog.New(slog.DiscardHandler)
	}
	if set.Now == nil {
		set.Now = time.Now
	}
	if set.Batch <= 0 {
		set.Batch = 512
	}
	if set.MaxBytes <= 0 {
		set.MaxBytes = 4 << 20
	}
	if set.Timeout <= 0 {
		set.Timeout = 30 * time.Second
	}
	if set.SinkMaxBytes <= 0 {
		set.SinkMaxBytes = 64 << 20
	}
	set.Backoff = set.Backoff.WithDefaults()
	return set
}

// Forwarder moves spans from the spool to the server: batches, backoff,
// dead letters for spans refused for their content, deletion only after
// acceptance. Create with New, then Start and Shutdown.
type Forwarder struct {
	set    Settings
	log    *slog.Logger
	store  *spool.Store
	writes spoolWrites // store, but for tests that make its writes fail
	exp    exporter

	wake chan struct{} // new spans
	now  chan struct{} // flush: skip the backoff wait

	cancel context.CancelFunc
	done   chan struct{} // closed when run returns

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
	RecordRejected(count int64, reason string, candidates []spool.SpanRef, now time.Time) error
}

// New makes the forwarder and its exporter (an OTLP/HTTP client, or the
// file sink when set.Target has no URL); it sends nothing before Start.
func New(set Settings, store *spool.Store) (*Forwarder, error) {
	set = set.withDefaults()
	var exp exporter
	var err error
	if set.Target.URL == "" {
		exp, err = newFileSink(set.SinkDir, set.SinkMaxBytes)
	} else {
		exp, err = newOTLPExporter(set)
	}
	if err != nil {
		return nil, err
	}
	return newForwarder(set, store, exp), nil
}

func newForwarder(set Settings, store *spool.Store, exp exporter) *Forwarder {
	return &Forwarder{set: set, log: set.Logger, store: store, writes: store, exp: exp,
		wake: make(chan struct{}, 1), now: make(chan struct{}, 1), lastOK: true}
}

// Start sends the spool's spans in the background until Shutdown.
func (f *Forwarder) Start(context.Context) error {
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel, f.done = cancel, make(chan struct{})
	go func() {
		defer close(f.done)
		f.run(ctx)
	}()
	return nil
}

// Shutdown stops sending (a request in flight is cancelled: its spans stay
// in the spool) and closes the exporter.
func (f *Forwarder) Shutdown(ctx context.Context) error {
	var err error
	if f.cancel != nil {
		f.cancel()
		select {
		case <-f.done:
		case <-ctx.Done():
			err = fmt.Errorf("export shutdown: %w", ctx.Err())
		}
	}
	f.exp.close()
	return err
}

// Notify wakes the forwarder: new spans are in the spool.
func (f *Forwarder) Notify() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// Kick sends now, skipping any backoff wait.
func (f *Forwarder) Kick() {
	select {
	case f.now <- struct{}{}:
	default:
	}
	f.Notify()
}

func (f *Forwarder) run(ctx context.Context) {
	forced := false // this attempt was asked for by flush, ahead of the backoff
	for {
		if ctx.Err() != nil {
			return
		}
		items, err := f.store.Peek(f.set.Batch, f.set.MaxBytes)
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
func (f *Forwarder) send(ctx context.Context, items []spool.Item) exportResult {
	if bad := undecodable(items); len(bad) > 0 {
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
func (f *Forwarder) sendPart(ctx context.Context, items []spool.Item, a *attempt) exportResult {
	body, _ := assembleRequest(items) // send dropped what does not decode
	res := f.export(ctx, body)
	if res.err == nil && res.rejected >= int64(len(items)) {
		res.err = fmt.Errorf("partial success rejecting all %d span(s): %s", res.rejected, res.rejectMsg)
		res.refusedAll = true
	}
	switch {
	case res.err == nil:
		// The rejection is recorded before the spans leave the spool, so
		// whoever sees the spool drained (flush) also sees it.
		if res.rejected > 0 {
			f.log.Warn("server accepted the batch partially; the request's spans are listed in dead letters", "rejected", res.rejected, "of", len(items), "message", res.rejectMsg)
			// The server names no span: the dead letter names the request's,
			// the refused among them. Sending them again to find out would
			// duplicate the accepted ones (their usage counted twice).
			if err := f.writes.RecordRejected(res.rejected, res.rejectMsg, spanRefs(items), f.set.Now()); err != nil {
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

// export sends one encoded request, noting it in flight for health.
func (f *Forwarder) export(ctx context.Context, body []byte) exportResult {
	f.mu.Lock()
	f.inflightSince = f.set.Now()
	f.mu.Unlock()
	res := f.exp.export(ctx, body)
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

func (f *Forwarder) refusingAll() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.lastOK && f.last.refusedAll
}

func (f *Forwarder) succeeded() {
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
func (f *Forwarder) failed(res exportResult, forced bool) time.Duration {
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
	delay := f.set.Backoff.delay(n, res.retryAfter)
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

// Health is what status, flush and the hooks' warning say of exports.
type Health struct {
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

// Health reports whether the latest attempt failed, since when and why. A
// request in flight for longer than the export timeout counts as failing.
func (f *Forwarder) Health() Health {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := Health{OK: f.lastOK, FailingSince: f.failingSince, Attempts: f.attempts}
	if !f.lastOK {
		h.Status, h.Message, h.Hint = f.last.status, f.last.message(), f.last.hint()
		h.Refused = f.last.refusedAll || f.last.kind() == endpointRefused
	}
	if !f.inflightSince.IsZero() {
		if d := f.set.Now().Sub(f.inflightSince); d > f.set.Timeout {
			h.OK, h.Status, h.Refused = false, 0, false
			if h.FailingSince.IsZero() {
				h.FailingSince = f.inflightSince
			}
			h.Message = fmt.Sprintf("an export has waited %s for an answer (timeout %s)", roundWait(d), f.set.Timeout)
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

// Flush exports everything queued now, skipping any backoff wait, and waits
// until it is accepted (or dead-lettered) or ctx ends. It gives up at once
// when the server refuses our requests (credentials, URL, every span).
func (f *Forwarder) Flush(ctx context.Context) error {
	target := f.store.LastSeq()
	// Only an attempt that began after the flush tells whether the server
	// refuses: one under way now may carry an answer from before a fix.
	start := f.begun()
	var kicked time.Time
	for {
		// Drained, and the attempt that drained it recorded (the last
		// error cleared): what status says next agrees with the flush.
		if first := f.store.FirstSeq(); (first == 0 || first > target) && !f.isSending() {
			return nil
		}
		h := f.Health()
		if h.Refused && h.Attempts > start {
			return f.waitingError(h)
		}
		if now := time.Now(); now.Sub(kicked) >= flushRetryEvery {
			f.Kick() // skip the backoff wait, at most once per flushRetryEvery
			kicked = now
		}
		select {
		case <-ctx.Done():
			return f.waitingError(f.Health())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// begun counts the attempts that have started: those finished, and the one
// under way.
func (f *Forwarder) begun() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sending {
		return f.attempts + 1
	}
	return f.attempts
}

func (f *Forwarder) isSending() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sending
}

// waitingError says what a flush leaves waiting, and why.
func (f *Forwarder) waitingError(h Health) error {
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
func (f *Forwarder) compact() {
	if done, err := f.store.CompactIfLarge(64 << 20); err != nil {
		f.log.Warn("compacting the spool", "err", err)
	} else if done {
		f.log.Info("compacted the spool after a large drain")
	}
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

// spanRefs names the spans of items (those that decode).
func spanRefs(items []spool.Item) []spool.SpanRef {
	refs := make([]spool.SpanRef, 0, len(items))
	for _, it := range items {
		var sp tracepb.Span
		if proto.Unmarshal(it.Span, &sp) != nil {
			continue
		}
		refs = append(refs, spool.SpanRef{TraceID: hex.EncodeToString(sp.TraceId), SpanID: hex.EncodeToString(sp.SpanId), Name: sp.Name})
	}
	return refs
}
