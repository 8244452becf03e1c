package export

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/weave-agentd/weave-agentd/config"
	"github.com/weave-agentd/weave-agentd/spool"
)

// otlpServer records the bodies (decompressed) and headers of the requests
// it receives and accepts them.
type otlpServer struct {
	*httptest.Server
	mu      sync.Mutex
	bodies  [][]byte
	headers []http.Header
}

func newOTLPServer(t *testing.T) *otlpServer {
	s := &otlpServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			body = zr
		}
		b, err := io.ReadAll(body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		if int64(len(b)) != r.ContentLength && r.Header.Get("Content-Encoding") == "" {
			http.Error(w, "content length", 400)
			return
		}
		s.mu.Lock()
		s.bodies = append(s.bodies, b)
		s.headers = append(s.headers, r.Header.Clone())
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		resp, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Write(resp)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *otlpServer) received() ([][]byte, []http.Header) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bodies, s.headers
}

// The spans the server receives are the spool's bytes as assembleRequest
// puts them together, in one request per attempt, gzipped or not as the
// config says, with the config's headers; undecodable records become dead
// letters and the others leave the spool.
func TestOTLPExporterSendsTheAssembledRequest(t *testing.T) {
	for _, compression := range []string{config.CompressionGzip, config.CompressionNone} {
		t.Run(compression, func(t *testing.T) {
			srv := newOTLPServer(t)
			store := testStore(t, "a", "b")
			res, _ := proto.Marshal(&resourcepb.Resource{})
			truncated := []byte{0x0a, 0x10, 1} // trace_id: 16 bytes announced, 1 there
			if err := store.Update(func(tx *spool.Tx) error { return tx.Enqueue(res, truncated, time.Now()) }); err != nil {
				t.Fatal(err)
			}
			enqueue(t, store, "c")
			items, err := store.Peek(10, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := assembleRequest(items)

			set := Settings{Logger: slog.New(slog.DiscardHandler), Target: config.Target{URL: srv.URL + "/v1/traces",
				Compression: compression, Headers: map[string]string{"Authorization": "Bearer x"}}}.withDefaults()
			exp, err := newOTLPExporter(set)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(exp.close)
			f := newForwarder(set, store, exp)
			if res := f.send(t.Context(), items); res.err != nil {
				t.Fatalf("send: %v", res.err)
			}
			bodies, headers := srv.received()
			if len(bodies) != 1 {
				t.Fatalf("%d requests, want 1", len(bodies))
			}
			if !bytes.Equal(bodies[0], want) {
				t.Errorf("the server received %d bytes, not the %d assembled", len(bodies[0]), len(want))
			}
			var req coltracepb.ExportTraceServiceRequest
			if err := proto.Unmarshal(bodies[0], &req); err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, s := range req.ResourceSpans[0].ScopeSpans[0].Spans {
				names = append(names, s.Name)
			}
			if len(names) != 3 || names[0] != "a" || names[1] != "b" || names[2] != "c" {
				t.Errorf("spans %v, want a b c", names)
			}
			wantEnc := ""
			if compression == config.CompressionGzip {
				wantEnc = "gzip"
			}
			h := headers[0]
			if h.Get("Content-Encoding") != wantEnc || h.Get("Authorization") != "Bearer x" || h.Get("Content-Type") != "application/x-protobuf" {
				t.Errorf("headers %v", h)
			}
			if st, _ := store.Stats(); st.Depth != 0 || st.DeadLetters != 1 || st.Counters["exported"] != 3 {
				t.Errorf("stats %+v: want 3 exported, 1 dead letter, none left", st)
			}
		})
	}
}

// silentClient is an OTLP client that returns without sending anything.
type silentClient struct{}

func (silentClient) Start(context.Context) error { return nil }
func (silentClient) Stop(context.Context) error  { return nil }
func (silentClient) UploadTraces(context.Context, []*tracepb.ResourceSpans) error {
	return nil
}

// An OTLP client that returns without a request through the transport has
// not sent the spans: the export fails and they stay (an otlptracehttp that
// skips empty requests must not make the daemon drop every span).
func TestExportWithoutARequestFails(t *testing.T) {
	srv := newOTLPServer(t)
	set := Settings{Target: config.Target{URL: srv.URL + "/v1/traces"}}.withDefaults()
	exp, err := newOTLPExporter(set)
	if err != nil {
		t.Fatal(err)
	}
	exp.client = silentClient{}
	if res := exp.export(t.Context(), []byte{0x0a, 0x00}); res.err == nil {
		t.Fatalf("export %+v: want a failure", res)
	}
}

// A request without the encoded spans in its context is not sent: an empty
// body would be accepted, and the spans deleted unsent.
func TestTransportRefusesARequestWithoutTheSpans(t *testing.T) {
	called := false
	rec := &recordingTransport{next: roundTripFunc(func(*http.Request) (*http.Response, error) {
		called = true
		return &http.Response{StatusCode: 200, Body: http.NoBody}, nil
	})}
	req := httptest.NewRequest(http.MethodPost, "http://localhost/v1/traces", http.NoBody)
	if _, err := rec.RoundTrip(req); !errors.Is(err, errNoBody) || called {
		t.Fatalf("RoundTrip: %v (sent: %v), want errNoBody and nothing sent", err, called)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// The local file sink decodes the assembled request once and writes it as
// OTLP/JSON.
func TestFileSinkWritesTheAssembledRequest(t *testing.T) {
	dir := t.TempDir()
	sink, err := newFileSink(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	store := testStore(t, "x", "y")
	items, _ := store.Peek(10, 1<<20)
	body, _ := assembleRequest(items)
	if res := sink.export(t.Context(), body); res.err != nil {
		t.Fatal(res.err)
	}
	if res := sink.export(t.Context(), []byte{0x0a, 0x05, 1}); res.err == nil || res.kind() != contentRefused {
		t.Errorf("an undecodable request: %+v, want refused for its content", res)
	}
	if got := readSinkSpans(t, filepath.Join(dir, "traces.jsonl")); len(got) != 2 || got[0] != "x" || got[1] != "y" {
		t.Errorf("sink holds %v", got)
	}
}

// A 307 redirect re-sends the whole request to the new URL; a 303 turns it
// into a GET without a body, as net/http does for any client.
func TestRedirectedExport(t *testing.T) {
	srv := newOTLPServer(t)
	var gets []int64
	var mu sync.Mutex
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet:
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			gets = append(gets, int64(len(b)))
			mu.Unlock()
			http.Error(w, "no", http.StatusMethodNotAllowed)
		case r.URL.Path == "/see-other":
			http.Redirect(w, r, "/v1/traces", http.StatusSeeOther)
		case r.URL.Path == "/found":
			// A 302 to a page that answers any GET with 200.
			http.Redirect(w, r, srv.URL+"/anything", http.StatusFound)
		default:
			http.Redirect(w, r, srv.URL+"/v1/traces", http.StatusTemporaryRedirect)
		}
	}))
	t.Cleanup(redirect.Close)
	store := testStore(t, "a")
	items, _ := store.Peek(10, 1<<20)
	body, _ := assembleRequest(items)
	for _, path := range []string{"/moved", "/see-other", "/found"} {
		set := Settings{Target: config.Target{URL: redirect.URL + path}}.withDefaults()
		exp, err := newOTLPExporter(set)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(exp.close)
		res := exp.export(t.Context(), body)
		switch path {
		case "/moved":
			if res.err != nil {
				t.Fatalf("307: %v", res.err)
			}
			if bodies, _ := srv.received(); len(bodies) != 1 || !bytes.Equal(bodies[0], body) {
				t.Errorf("307: the server received %d request(s), want the assembled body once", len(bodies))
			}
		default:
			// A redirect that would turn the POST into a GET without the
			// spans is not followed: a 2xx to that GET would have counted
			// spans never sent as accepted. The URL is wrong: say so.
			mu.Lock()
			if res.err == nil || res.status/100 != 3 || res.kind() != endpointRefused || !strings.Contains(res.hint(), "redirect") || len(gets) != 0 {
				t.Errorf("%s: %+v (hint %q), GETs %v: want the redirect as an endpoint error, no GET", path, res, res.hint(), gets)
			}
			mu.Unlock()
		}
	}
}

// What a server answers is kept bounded: otlptracehttp quotes up to 4 MiB
// of a refusal's body in its error, which became the last error in status
// and the reason of every dead letter (a 1 MiB error page per refused span
// in the spool, a `deadletters list` answer over the frame cap). A partial
// success's message is bounded alike, and a negative rejected count (which
// made flush count more spans accepted than it sent) is none.
func TestServerAnswersAreKeptBounded(t *testing.T) {
	// Escape sequences, a NUL and invalid UTF-8 must not reach the
	// terminal of whoever runs status or deadletters list.
	page := "\x1b]0;owned\x07\x1b[31mred\x00\xff\n" + strings.Repeat("<p>blocked by the firewall</p>", 40_000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/partial" {
			b, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{PartialSuccess: &coltracepb.ExportTracePartialSuccess{
				RejectedSpans: -3, ErrorMessage: page}})
			w.Header().Set("Content-Type", "application/x-protobuf")
			w.Write(b)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, page)
	}))
	t.Cleanup(srv.Close)
	store := testStore(t, "a")
	items, _ := store.Peek(10, 1<<20)
	body, _ := assembleRequest(items)
	for _, path := range []string{"/v1/traces", "/partial"} {
		exp, err := newOTLPExporter(Settings{Target: config.Target{URL: srv.URL + path}}.withDefaults())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(exp.close)
		res := exp.export(t.Context(), body)
		if path == "/partial" {
			if res.err != nil || res.rejected != 0 || len(res.rejectMsg) > 2*maxMessage || !printable(res.rejectMsg) {
				t.Errorf("partial success: err %v, rejected %d, message of %d bytes", res.err, res.rejected, len(res.rejectMsg))
			}
			continue
		}
		if res.err == nil || res.status != http.StatusBadRequest {
			t.Fatalf("400: %+v", res)
		}
		if msg := res.message(); len(msg) > 2*maxMessage || !strings.HasPrefix(msg, "HTTP 400") || !printable(msg) {
			t.Errorf("the kept message is %d bytes: %.200q", len(msg), msg)
		}
	}
}

// printable: valid UTF-8 without control characters.
func printable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
}

// A 307 to another host is not followed: that host would have received
// the configured headers (API keys such as x-honeycomb-team; net/http
// drops only Authorization and cookies). The redirect is an endpoint
// error that names it.
func TestRedirectToAnotherHostIsNotFollowed(t *testing.T) {
	var got []http.Header
	var mu sync.Mutex
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Clone())
		mu.Unlock()
	}))
	t.Cleanup(other.Close)
	elsewhere := strings.Replace(other.URL, "127.0.0.1", "localhost", 1) + "/v1/traces"
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirect.Close)
	store := testStore(t, "a")
	items, _ := store.Peek(10, 1<<20)
	body, _ := assembleRequest(items)
	exp, err := newOTLPExporter(Settings{Target: config.Target{URL: redirect.URL + "/v1/traces",
		Headers: map[string]string{"x-honeycomb-team": "secret-key"}}}.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(exp.close)
	res := exp.export(t.Context(), body)
	if res.err == nil || res.status != http.StatusTemporaryRedirect || res.kind() != endpointRefused || !strings.Contains(res.hint(), "redirect") {
		t.Errorf("%+v (hint %q): want the redirect as an endpoint error", res, res.hint())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 0 {
		t.Errorf("the other host received %d request(s), headers %v", len(got), got)
	}
}

// A 2xx whose body then stalls is no acceptance: the partial success it
// carries was never read. The attempt fails within the request deadline
// (as a timeout, retried) and the spans stay in the spool.
func TestStalledBodyAfterA2xxIsAFailedAttempt(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Header().Set("Content-Length", "64") // announced, never sent
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	store := testStore(t, "a", "b")
	set := Settings{Logger: slog.New(slog.DiscardHandler), Target: config.Target{URL: srv.URL + "/v1/traces"},
		Timeout: 300 * time.Millisecond}.withDefaults()
	exp, err := newOTLPExporter(set)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(exp.close)
	f := newForwarder(set, store, exp)
	items, err := store.Peek(10, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	res := f.send(t.Context(), items) // before the fix, after the deadline: accepted
	if res.err == nil || res.kind() != retryable || !strings.Contains(res.err.Error(), "timed out") {
		t.Fatalf("send = %+v (%v), want a retryable timeout", res, res.err)
	}
	if st, _ := store.Stats(); st.Depth != 2 || st.Counters["exported"] != 0 || st.DeadLetters != 0 {
		t.Fatalf("stats %+v: want both spans still in the spool", st)
	}
}
