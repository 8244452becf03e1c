package receiver

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/weave-agentd/weave-agentd/e2e/internal/localhttp"
)

// Fault is what Faulty does with one request instead of (or besides) passing it on.
// The zero Fault forwards the request unchanged.
type Fault struct {
	// Status, when non-zero, is the HTTP status Faulty answers (503, 429, 400, ...).
	Status int
	// RetryAfter is sent as the Retry-After header when non-empty ("2", or an HTTP date).
	RetryAfter string
	// Body is the response body; empty means a google.rpc.Status-like JSON body
	// naming the status.
	Body string
	// Delay is waited before anything else (forwarding or answering); the
	// request's own context still ends it early.
	Delay time.Duration
	// Forward sends the request upstream first (so the server stores the spans)
	// and then answers with this Fault instead of the upstream's answer: a lost
	// response, as when the network drops after the server accepted.
	Forward bool
	// PartialRejected, when > 0 and Status is 0, answers 200 with an OTLP
	// ExportTraceServiceResponse whose partial_success has rejected_spans =
	// PartialRejected and error_message = PartialMessage (in the request's encoding,
	// protobuf or JSON). Combine with Forward to also store the batch upstream.
	PartialRejected int64
	PartialMessage  string
	// CloseConn closes the connection without any answer (after Forward, if set).
	CloseConn bool
}

// Unavailable is a 503 with Retry-After (retryAfter "" leaves the header out).
func Unavailable(retryAfter string) Fault {
	return Fault{Status: http.StatusServiceUnavailable, RetryAfter: retryAfter}
}

// TooManyRequests is a 429 with Retry-After.
func TooManyRequests(retryAfter string) Fault {
	return Fault{Status: http.StatusTooManyRequests, RetryAfter: retryAfter}
}

// BadRequest is a permanent 400 with msg in the body.
func BadRequest(msg string) Fault {
	return Fault{Status: http.StatusBadRequest, Body: fmt.Sprintf(`{"code":3,"message":%q}`, msg)}
}

// LostResponse forwards the request (the server stores it) and answers 503:
// the client cannot know its batch was accepted and will resend it.
func LostResponse() Fault { return Fault{Forward: true, Status: http.StatusServiceUnavailable} }

// Request is one request that reached Faulty.
type Request struct {
	Time            time.Time
	Method          string
	Path            string
	Header          http.Header
	Body            []byte // as received (possibly gzip-compressed)
	ContentType     string
	ContentEncoding string
	// Status is the HTTP status answered (0 when the connection was closed).
	Status   int
	Fault    Fault
	Upstream int // upstream's status when forwarded, 0 otherwise
}

// DecodeSpans decodes the OTLP trace request body (gzip and protobuf/JSON
// handled) into Spans.
func (r Request) DecodeSpans() ([]Span, error) {
	body := r.Body
	if strings.EqualFold(r.ContentEncoding, "gzip") {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		body, err = io.ReadAll(zr)
		if err != nil {
			return nil, err
		}
	}
	req := ptraceotlp.NewExportRequest()
	var err error
	if strings.HasPrefix(r.ContentType, "application/json") {
		err = req.UnmarshalJSON(body)
	} else {
		err = req.UnmarshalProto(body)
	}
	if err != nil {
		return nil, err
	}
	return Flatten(req.Traces()), nil
}

// Faulty is a small HTTP front that forwards to an upstream OTLP/HTTP server
// (usually a Receiver) and injects faults on demand.
type Faulty struct {
	upstream string // base URL, e.g. http://127.0.0.1:4318
	http     *localhttp.Server
	client   *http.Client

	mu     sync.Mutex
	queue  []Fault
	always *Fault
	reqs   []Request
}

// NewFaulty starts a front on 127.0.0.1:<free port> forwarding to upstream
// (a base URL such as Receiver.Endpoint(); the request path is kept) and
// closes it when the test ends.
func NewFaulty(t testing.TB, upstream string) *Faulty {
	t.Helper()
	f := &Faulty{
		upstream: strings.TrimRight(upstream, "/"),
		client:   &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}},
	}
	f.http = localhttp.Start(t, "faulty", f)
	return f
}

// Close stops the front.
func (f *Faulty) Close() { f.http.Close() }

// Endpoint is the front's base URL.
func (f *Faulty) Endpoint() string { return f.http.URL() }

// URL is the front's traces URL.
func (f *Faulty) URL() string { return f.Endpoint() + TracesPath }

// Set makes every request get fault until Clear (after any queued faults).
func (f *Faulty) Set(fault Fault) {
	f.mu.Lock()
	f.always = &fault
	f.mu.Unlock()
}

// Next queues faults for the next requests, one each, in order; they come
// before the fault given to Set.
func (f *Faulty) Next(faults ...Fault) {
	f.mu.Lock()
	f.queue = append(f.queue, faults...)
	f.mu.Unlock()
}

// Clear drops the queued and persistent faults: requests are forwarded again.
func (f *Faulty) Clear() {
	f.mu.Lock()
	f.queue, f.always = nil, nil
	f.mu.Unlock()
}

// Requests returns every request seen so far.
func (f *Faulty) Requests() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Request(nil), f.reqs...)
}

func (f *Faulty) pick() Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.queue) > 0 {
		ft := f.queue[0]
		f.queue = f.queue[1:]
		return ft
	}
	if f.always != nil {
		return *f.always
	}
	return Fault{}
}

func (f *Faulty) record(r Request) {
	f.mu.Lock()
	f.reqs = append(f.reqs, r)
	f.mu.Unlock()
}

// ServeHTTP implements http.Handler.
func (f *Faulty) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	fault := f.pick()
	rec := Request{
		Time: time.Now(), Method: req.Method, Path: req.URL.Path, Header: req.Header.Clone(),
		Body: body, ContentType: req.Header.Get("Content-Type"), ContentEncoding: req.Header.Get("Content-Encoding"),
		Fault: fault,
	}
	if fault.Delay > 0 {
		select {
		case <-time.After(fault.Delay):
		case <-req.Context().Done():
			f.record(rec)
			return
		}
	}
	passthrough := fault.Status == 0 && fault.PartialRejected == 0 && !fault.CloseConn
	var upStatus int
	var upHeader http.Header
	var upBody []byte
	if passthrough || fault.Forward {
		upStatus, upHeader, upBody, err = f.forward(req, body)
		if err != nil {
			upStatus, upBody = http.StatusBadGateway, []byte(err.Error())
			upHeader = http.Header{"Content-Type": {"text/plain"}}
		}
		rec.Upstream = upStatus
	}
	// Every branch records the request before the client can see an answer,
	// so a test that reads Requests right after its call returns sees it.
	switch {
	case fault.CloseConn:
		f.record(rec)
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
			}
		}
	case passthrough:
		rec.Status = upStatus
		f.record(rec)
		for k, v := range upHeader {
			w.Header()[k] = v
		}
		w.WriteHeader(upStatus)
		_, _ = w.Write(upBody)
	case fault.Status == 0 && fault.PartialRejected > 0:
		resp := ptraceotlp.NewExportResponse()
		resp.PartialSuccess().SetRejectedSpans(fault.PartialRejected)
		resp.PartialSuccess().SetErrorMessage(fault.PartialMessage)
		var out []byte
		ct := "application/x-protobuf"
		if strings.HasPrefix(rec.ContentType, "application/json") {
			out, _ = resp.MarshalJSON()
			ct = "application/json"
		} else {
			out, _ = resp.MarshalProto()
		}
		rec.Status = http.StatusOK
		f.record(rec)
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(out)
	default:
		if fault.RetryAfter != "" {
			w.Header().Set("Retry-After", fault.RetryAfter)
		}
		b := fault.Body
		if b == "" {
			b = fmt.Sprintf(`{"code":14,"message":"injected %d %s"}`, fault.Status, http.StatusText(fault.Status))
		}
		rec.Status = fault.Status
		f.record(rec)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(fault.Status)
		_, _ = io.WriteString(w, b)
	}
}

func (f *Faulty) forward(req *http.Request, body []byte) (int, http.Header, []byte, error) {
	out, err := http.NewRequestWithContext(req.Context(), req.Method, f.upstream+req.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	out.Header = req.Header.Clone()
	resp, err := f.client.Do(out)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b, err
}
