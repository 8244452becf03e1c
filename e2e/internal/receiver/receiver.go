// Package receiver embeds the OpenTelemetry Collector's own OTLP receiver
// (go.opentelemetry.io/collector/receiver/otlpreceiver) as a real OTLP/HTTP
// trace server for end-to-end tests, with a recording consumer.
//
// Typical use:
//
//	rcv := receiver.Start(t)             // http://127.0.0.1:PORT/v1/traces
//	... point the daemon at rcv.URL() ...
//	spans, err := rcv.WaitForSpans(ctx, 5)
//	rcv.Stop()                           // server down: connection refused
//	rcv.Restart()                        // back on the same port
//
// Put a Faulty in front of it to make the "server" answer 503/429/400, a
// partial success, or to accept a batch and then lose the response.
package receiver

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configgrpc"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
)

// TracesPath is the OTLP/HTTP traces path the receiver serves.
const TracesPath = "/v1/traces"

// Span is one received span, flattened for easy assertions.
type Span struct {
	TraceID      string // 32 hex chars
	SpanID       string // 16 hex chars
	ParentSpanID string // "" for a root span
	Name         string
	Kind         string // "Internal", "Server", "Client", ...
	Start        time.Time
	End          time.Time
	Attributes   map[string]any
	// StatusCode is "Unset", "Ok" or "Error".
	StatusCode    string
	StatusMessage string
	Events        []Event
	Links         []Link
	// Resource holds the resource attributes of the ResourceSpans the span came in.
	Resource     map[string]any
	ScopeName    string
	ScopeVersion string
	// Batch is the 1-based ordinal of the export request that carried the span.
	Batch int
	// ReceivedAt is when the receiver's consumer saw the span.
	ReceivedAt time.Time
}

// Event is a span event.
type Event struct {
	Name       string
	Time       time.Time
	Attributes map[string]any
}

// Link is a span link.
type Link struct {
	TraceID    string
	SpanID     string
	Attributes map[string]any
}

// Duration is End minus Start.
func (s Span) Duration() time.Duration { return s.End.Sub(s.Start) }

// Attr returns attribute k as a string (fmt.Sprint of the raw value), "" when absent.
func (s Span) Attr(k string) string {
	v, ok := s.Attributes[k]
	if !ok {
		return ""
	}
	if str, ok := v.(string); ok {
		return str
	}
	return fmt.Sprint(v)
}

// Int returns attribute k as int64 (0 when absent or not an integer).
func (s Span) Int(k string) int64 {
	switch v := s.Attributes[k].(type) {
	case int64:
		return v
	case int:
		return int64(v)
	case float64:
		return int64(v)
	}
	return 0
}

// Receiver is a running OTLP/HTTP trace receiver with a recording consumer.
type Receiver struct {
	addr string // 127.0.0.1:PORT, fixed for the Receiver's life

	lifeMu  sync.Mutex // serialises Start/Stop/Restart
	running receiver.Traces

	mu       sync.Mutex
	cond     chan struct{} // closed and replaced on every change
	spans    []Span
	counts   map[string]int
	batches  int
	consumeE error
}

// Start starts a receiver on 127.0.0.1 at a free port (HTTP only, no gRPC) and
// stops it when the test ends.
func Start(t testing.TB) *Receiver {
	t.Helper()
	r, err := New("127.0.0.1:0")
	if err != nil {
		t.Fatalf("receiver: %v", err)
	}
	t.Cleanup(func() { _ = r.Stop() })
	return r
}

// New starts a receiver on addr ("127.0.0.1:0" picks a free port). The caller
// must Stop it. Prefer Start in tests.
func New(addr string) (*Receiver, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if port == "0" || port == "" {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, err
		}
		addr = ln.Addr().String()
		_ = ln.Close()
	}
	r := &Receiver{addr: addr, counts: map[string]int{}, cond: make(chan struct{})}
	if err := r.start(); err != nil {
		return nil, err
	}
	return r, nil
}

// Endpoint is the base URL, http://127.0.0.1:PORT (for OTEL_EXPORTER_OTLP_ENDPOINT).
func (r *Receiver) Endpoint() string { return "http://" + r.addr }

// URL is the full traces URL, http://127.0.0.1:PORT/v1/traces (for
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or the daemon's endpoint setting).
func (r *Receiver) URL() string { return r.Endpoint() + TracesPath }

// Running reports whether the server is up.
func (r *Receiver) Running() bool {
	r.lifeMu.Lock()
	defer r.lifeMu.Unlock()
	return r.running != nil
}

func (r *Receiver) start() error {
	r.lifeMu.Lock()
	defer r.lifeMu.Unlock()
	if r.running != nil {
		return nil
	}
	f := otlpreceiver.NewFactory()
	cfg := f.CreateDefaultConfig().(*otlpreceiver.Config)
	cfg.GRPC = configoptional.None[configgrpc.ServerConfig]()
	httpCfg := cfg.HTTP.GetOrInsertDefault()
	httpCfg.ServerConfig.Endpoint = r.addr
	// Large batches are legitimate in tests (default is 20 MiB already; keep it explicit).
	httpCfg.ServerConfig.MaxRequestBodySize = 64 << 20

	set := receivertest.NewNopSettings(component.MustNewType("otlp"))
	tr, err := f.CreateTraces(context.Background(), set, cfg, consumerFunc(r.consume))
	if err != nil {
		return err
	}
	// Rebinding the same port right after a Stop can race with the kernel; retry briefly.
	deadline := time.Now().Add(5 * time.Second)
	for {
		err = tr.Start(context.Background(), componenttest.NewNopHost())
		if err == nil {
			break
		}
		_ = tr.Shutdown(context.Background())
		if time.Now().After(deadline) {
			return fmt.Errorf("start OTLP receiver on %s: %w", r.addr, err)
		}
		time.Sleep(50 * time.Millisecond)
		// A fresh component: the factory shares receivers per config pointer.
		cfg2 := *cfg
		tr, err = f.CreateTraces(context.Background(), set, &cfg2, consumerFunc(r.consume))
		if err != nil {
			return err
		}
	}
	r.running = tr
	return nil
}

// Stop shuts the server down: the port refuses connections until Restart.
// Recorded spans are kept. Stopping a stopped receiver is a no-op.
func (r *Receiver) Stop() error {
	r.lifeMu.Lock()
	defer r.lifeMu.Unlock()
	if r.running == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := r.running.Shutdown(ctx)
	r.running = nil
	return err
}

// Restart starts the server again on the same address (after Stop; a no-op
// when it is running).
func (r *Receiver) Restart() error { return r.start() }

// SetConsumeError makes the receiver's consumer fail every export with err until
// it is called with nil. The Collector maps a plain error to 503 and a
// consumererror.NewPermanent error to 500; a gRPC status error maps by its code
// (codes.ResourceExhausted → 429, codes.InvalidArgument → 400). Spans of a
// failed export are not recorded. For Retry-After headers or partial successes use Faulty.
func (r *Receiver) SetConsumeError(err error) {
	r.mu.Lock()
	r.consumeE = err
	r.mu.Unlock()
}

func (r *Receiver) consume(_ context.Context, td ptrace.Traces) error {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.consumeE != nil {
		return r.consumeE
	}
	r.batches++
	cp := ptrace.NewTraces()
	td.CopyTo(cp)
	for _, s := range flatten(cp, r.batches, now) {
		r.spans = append(r.spans, s)
		r.counts[s.SpanID]++
	}
	close(r.cond)
	r.cond = make(chan struct{})
	return nil
}

// Spans returns every span received so far, in arrival order, duplicates
// included (a span id received twice appears twice).
func (r *Receiver) Spans() []Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Span(nil), r.spans...)
}

// UniqueSpans returns one Span per span id (the last received copy), in order
// of first arrival.
func (r *Receiver) UniqueSpans() []Span { return Unique(r.Spans()) }

// Unique keeps the last copy of each span id, in order of first appearance.
func Unique(spans []Span) []Span {
	idx := map[string]int{}
	var out []Span
	for _, s := range spans {
		if i, ok := idx[s.SpanID]; ok {
			out[i] = s
			continue
		}
		idx[s.SpanID] = len(out)
		out = append(out, s)
	}
	return out
}

// Count is how many times the span id (16 hex chars) was received.
func (r *Receiver) Count(spanID string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts[spanID]
}

// Counts returns span id → times received.
func (r *Receiver) Counts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.counts))
	for k, v := range r.counts {
		out[k] = v
	}
	return out
}

// Duplicates returns the span ids received more than once, with their counts.
func (r *Receiver) Duplicates() map[string]int {
	out := map[string]int{}
	for k, v := range r.Counts() {
		if v > 1 {
			out[k] = v
		}
	}
	return out
}

// Batches is the number of export requests accepted so far.
func (r *Receiver) Batches() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.batches
}

// Reset forgets everything received so far.
func (r *Receiver) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.spans, r.batches = nil, 0
	r.counts = map[string]int{}
	close(r.cond)
	r.cond = make(chan struct{})
}

// WaitForSpans waits until at least n distinct span ids have been received and
// returns all received spans (duplicates included).
func (r *Receiver) WaitForSpans(ctx context.Context, n int) ([]Span, error) {
	return r.WaitFor(ctx, func(spans []Span) bool { return len(Unique(spans)) >= n })
}

// WaitFor waits until pred holds for the spans received so far (duplicates
// included) and returns them. On ctx's end it returns what it has and an error
// saying how many spans arrived.
func (r *Receiver) WaitFor(ctx context.Context, pred func([]Span) bool) ([]Span, error) {
	for {
		r.mu.Lock()
		spans := append([]Span(nil), r.spans...)
		ch := r.cond
		r.mu.Unlock()
		if pred(spans) {
			return spans, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return spans, fmt.Errorf("receiver: waited for spans, got %d (%d distinct): %w", len(spans), len(Unique(spans)), ctx.Err())
		}
	}
}

// ByName returns the spans whose name equals name.
func ByName(spans []Span, name string) []Span {
	var out []Span
	for _, s := range spans {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// Children returns the spans whose parent is parent.SpanID (same trace).
func Children(spans []Span, parent Span) []Span {
	var out []Span
	for _, s := range spans {
		if s.TraceID == parent.TraceID && s.ParentSpanID == parent.SpanID {
			out = append(out, s)
		}
	}
	return out
}

// Flatten converts pdata traces to Spans (exported for tests that decode OTLP
// themselves, for example the daemon's file sink).
func Flatten(td ptrace.Traces) []Span { return flatten(td, 0, time.Time{}) }

func flatten(td ptrace.Traces, batch int, at time.Time) []Span {
	var out []Span
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		res := rs.Resource().Attributes().AsRaw()
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			spans := ss.Spans()
			for k := 0; k < spans.Len(); k++ {
				sp := spans.At(k)
				s := Span{
					TraceID:       traceHex(sp.TraceID()),
					SpanID:        spanHex(sp.SpanID()),
					ParentSpanID:  spanHex(sp.ParentSpanID()),
					Name:          sp.Name(),
					Kind:          sp.Kind().String(),
					Start:         sp.StartTimestamp().AsTime(),
					End:           sp.EndTimestamp().AsTime(),
					Attributes:    sp.Attributes().AsRaw(),
					StatusCode:    sp.Status().Code().String(),
					StatusMessage: sp.Status().Message(),
					Resource:      copyMap(res),
					ScopeName:     ss.Scope().Name(),
					ScopeVersion:  ss.Scope().Version(),
					Batch:         batch,
					ReceivedAt:    at,
				}
				evs := sp.Events()
				for e := 0; e < evs.Len(); e++ {
					ev := evs.At(e)
					s.Events = append(s.Events, Event{Name: ev.Name(), Time: ev.Timestamp().AsTime(), Attributes: ev.Attributes().AsRaw()})
				}
				links := sp.Links()
				for l := 0; l < links.Len(); l++ {
					ln := links.At(l)
					s.Links = append(s.Links, Link{TraceID: traceHex(ln.TraceID()), SpanID: spanHex(ln.SpanID()), Attributes: ln.Attributes().AsRaw()})
				}
				out = append(out, s)
			}
		}
	}
	return out
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func traceHex(id pcommon.TraceID) string {
	if id.IsEmpty() {
		return ""
	}
	return hex.EncodeToString(id[:])
}

func spanHex(id pcommon.SpanID) string {
	if id.IsEmpty() {
		return ""
	}
	return hex.EncodeToString(id[:])
}

// consumerFunc adapts a function to consumer.Traces.
type consumerFunc func(context.Context, ptrace.Traces) error

var _ consumer.Traces = consumerFunc(nil)

func (f consumerFunc) ConsumeTraces(ctx context.Context, td ptrace.Traces) error { return f(ctx, td) }
func (f consumerFunc) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}
