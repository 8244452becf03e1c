package export

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/weave-agentd/weave-agentd/config"
)

// exportResult is what one export attempt came to.
type exportResult struct {
	err        error
	status     int           // HTTP status (0: no response)
	retryAfter time.Duration // from Retry-After, if any
	rejected   int64         // OTLP partial success: spans the server rejected
	rejectMsg  string
	// refusedAll: the server refused every span of the request for its
	// content (a partial success rejecting them all, or every span of a
	// split batch refused on its own).
	refusedAll bool
	// webPage: a 2xx whose body is an HTML page, not an OTLP response (a
	// proxy's login page, a web app's catch-all route at a wrong URL).
	webPage bool
}

// failureKind sorts a failed export by whose fault it is.
type failureKind int

const (
	// retryable: no answer, a timeout, 408, 429, 5xx: back off and retry.
	retryable failureKind = iota
	// endpointRefused: 401, 403, 404, 405, 407, a redirect to a GET:
	// credentials, proxy or URL,
	// never the spans' fault. The spans stay; back off; report.
	endpointRefused
	// contentRefused: any other 4xx, or a partial success rejecting every
	// span: maybe the request's content. The batch is split to find out.
	contentRefused
)

func (r exportResult) kind() failureKind {
	switch {
	case r.err == nil:
		return retryable
	case r.refusedAll:
		return contentRefused
	case r.webPage:
		return endpointRefused
	case r.status == 401 || r.status == 403 || r.status == 404 || r.status == 405 || r.status == 407,
		r.status >= 300 && r.status < 400: // a redirect not followed (sameMethod)
		return endpointRefused
	case r.status >= 400 && r.status < 500 && r.status != 408 && r.status != 429:
		return contentRefused
	}
	return retryable
}

// message is the failure as status and the logs show it.
func (r exportResult) message() string {
	msg := r.err.Error()
	if r.status >= 300 {
		msg = fmt.Sprintf("HTTP %d: %s", r.status, msg)
	}
	return clip(msg, maxMessage)
}

// maxMessage bounds an export error as it is kept (the last error in the
// spool and in status, each dead letter's reason): otlptracehttp quotes up
// to 4 MiB of the server's answer, a web page as often as not.
const maxMessage = 1 << 10

// clip makes a server's text fit to keep and show: printable (a line
// break or tab becomes a space; another control character, an escape
// sequence's ESC or a NUL, and invalid UTF-8 become U+FFFD, so an answer
// cannot write into the terminal of whoever runs status or deadletters),
// and at most n bytes on a rune boundary, with a marker.
func clip(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			return ' '
		case unicode.IsControl(r):
			return utf8.RuneError
		}
		return r
	}, strings.ToValidUTF8(s, string(utf8.RuneError)))
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + fmt.Sprintf("…[%d bytes not kept]", len(s)-n)
}

// hint says what the user can do about a failure that retrying alone will
// not fix ("" for the others).
func (r exportResult) hint() string {
	switch {
	case r.status == 401 || r.status == 403:
		return "the server rejected the credentials: check the headers in the config (for Weave: weave_api_key, WANDB_API_KEY or ~/.netrc, and weave_project), then 'weave-agentd restart'"
	case r.status == 407:
		return "the proxy asks for credentials: put them in the proxy URL (proxy = \"http://user:password@host:port\" in the config, or HTTPS_PROXY)"
	case r.webPage:
		return "the endpoint answered with a web page, not an OTLP response: endpoint must be the full OTLP/HTTP traces URL (e.g. http://localhost:4318/v1/traces), or a proxy asks you to log in"
	case r.status >= 300 && r.status < 400:
		return "the endpoint answers with a redirect that is not followed (HTTP " + strconv.Itoa(r.status) + ": it would drop the spans, or send them and the headers to another host or over plain http): set endpoint to the URL it redirects to, the full OTLP/HTTP traces URL (e.g. https://… instead of http://…)"
	case r.status == 404 || r.status == 405:
		return "wrong URL: endpoint must be the full OTLP/HTTP traces URL, e.g. http://localhost:4318/v1/traces"
	case r.refusedAll && r.status == 413:
		return "the server's request size limit is below a single span: raise it, or lower max_attribute_bytes in the config"
	case r.refusedAll && r.status == 415:
		return "the server does not take OTLP/protobuf at this URL (a gRPC port such as 4317?)"
	case r.refusedAll:
		return "the server refuses every span, even sent alone, so it cannot read what weave-agentd sends: check that endpoint is an OTLP/HTTP traces URL, and try compression = \"none\" in the config"
	}
	return ""
}

// exporter sends one request: body is an encoded OTLP
// ExportTraceServiceRequest (assembleRequest).
type exporter interface {
	export(ctx context.Context, body []byte) exportResult
	close()
}

// otlpExporter sends with the OpenTelemetry otlptracehttp client
// (protobuf), its retry disabled: the spool owns backoff. The request body is
// the one assembleRequest encoded from the spool's bytes: the client is
// handed no spans, and a recording transport puts the body on the wire,
// gzipped when the target asks for it, and reads the status code,
// Retry-After and partial success of each response.
//
// That the body reaches the wire this way rests on otlptracehttp v1.47.0
// (client.go) doing, for UploadTraces(ctx, nil):
//   - 157, 164, 283, 314-323: it encodes an empty ExportTraceServiceRequest
//     (zero bytes; its 64 MiB MaxRequestSize check sees those) and, with
//     NoCompression, sends them as they are;
//   - 161, 476-489: its context is context.WithCancel of ours, so the values
//     we put in it stay; 189, 385-388: the request is re-targeted at that
//     context (WithContext) before 191 sends it with c.client.Do, our
//     http.Client (84: WithHTTPClient), whose Timeout again derives a
//     context from it;
//   - 110 and internal/retry/retry.go 63-66: with WithRetry Enabled false
//     the request function runs once: one request per UploadTraces, never a
//     replay. (A replay, or a 307/308 redirect that re-sends the POST, would
//     still carry the whole body: the transport makes a new reader of the
//     context's bytes on every round trip.)
//   - 170-179: its own self-observability (experimental, off unless
//     OTEL_GO_X_OBSERVABILITY is set) counts the spans it was handed: none.
//
// Should a later version stop calling the transport for an empty request,
// or lose the context's values, export fails (see errNoBody and the check on
// the status) rather than acknowledge spans never sent.
type otlpExporter struct {
	client  otlptrace.Client
	rec     *recordingTransport
	timeout time.Duration
}

func newOTLPExporter(set Settings) (*otlpExporter, error) {
	base, err := baseTransport(set.Transport)
	if err != nil {
		return nil, err
	}
	// otlptracehttp ignores WithTimeout when given a client: the client and
	// its transport bound every step themselves, and export adds a deadline.
	timeout := set.Timeout
	step := min(timeout, 10*time.Second)
	base.DialContext = (&net.Dialer{Timeout: step, KeepAlive: 30 * time.Second}).DialContext
	base.TLSHandshakeTimeout = step
	base.ResponseHeaderTimeout = timeout
	rec := &recordingTransport{next: base, gzip: set.Target.Compression != config.CompressionNone}
	opts := []otlptracehttp.Option{
		otlptracehttp.WithEndpointURL(set.Target.URL),
		// gzip happens in the transport, at BestSpeed: the exporter's default
		// level cost a third of the daemon's CPU during a backfill.
		otlptracehttp.WithCompression(otlptracehttp.NoCompression),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}),
		otlptracehttp.WithHTTPClient(&http.Client{Transport: rec, Timeout: timeout, CheckRedirect: sameMethod}),
	}
	if len(set.Target.Headers) > 0 {
		opts = append(opts, otlptracehttp.WithHeaders(set.Target.Headers))
	}
	c := otlptracehttp.NewClient(opts...)
	if err := c.Start(context.Background()); err != nil {
		return nil, fmt.Errorf("start OTLP client: %w", err)
	}
	return &otlpExporter{client: c, rec: rec, timeout: timeout}, nil
}

// Check reports what New would refuse in t (a proxy URL, the CA or client
// certificate files) without sending anything.
func (t Transport) Check() error {
	_, err := baseTransport(t)
	return err
}

// baseTransport honours proxy (config, else HTTPS_PROXY/NO_PROXY), a custom
// CA and a client certificate.
func baseTransport(set Transport) (*http.Transport, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = http.ProxyFromEnvironment
	if p := set.Proxy; p != "" {
		u, err := url.Parse(p)
		if err != nil {
			return nil, fmt.Errorf("proxy %q: %w", p, err)
		}
		tr.Proxy = http.ProxyURL(u)
	}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if f := set.CAFile; f != "" {
		pem, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s holds no PEM certificate", f)
		}
		tlsConf.RootCAs = pool
	}
	if set.ClientCert != "" {
		cert, err := tls.LoadX509KeyPair(set.ClientCert, set.ClientKey)
		if err != nil {
			return nil, fmt.Errorf("client_cert/client_key: %w", err)
		}
		tlsConf.Certificates = []tls.Certificate{cert}
	}
	tr.TLSClientConfig = tlsConf
	return tr, nil
}

func (e *otlpExporter) export(ctx context.Context, body []byte) exportResult {
	e.rec.reset()
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	err := e.client.UploadTraces(context.WithValue(ctx, bodyKey{}, body), nil)
	r := e.rec.result()
	r.err = err
	if err != nil && isTimeout(err) {
		r.err = fmt.Errorf("no complete answer within %s (timed out): %w", e.timeout, err)
	}
	if err == nil && r.status == 0 {
		// The client returned without our transport getting an answer: the
		// spans were not sent, whatever it says.
		return exportResult{err: errors.New("the OTLP client returned without sending the request (an otlptracehttp upgrade?); the spans stay in the spool")}
	}
	if r.status >= 200 && r.status < 300 && r.rejected == 0 && r.rejectMsg == "" {
		r.err = nil // a 2xx read to its end is acceptance (the transport failed it otherwise)
	}
	if r.status >= 200 && r.status < 300 && (r.rejected > 0 || r.rejectMsg != "") {
		r.err = nil // accepted with partial success: handled by the forwarder
	}
	if r.webPage {
		r.err = fmt.Errorf("HTTP %d with a web page (text/html), not an OTLP response: the spans were not taken", r.status)
	}
	return r
}

func (e *otlpExporter) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = e.client.Stop(ctx)
}

// sameMethod follows a redirect only when it re-sends the export as it was
// (307, 308). After a 301, 302 or 303 net/http would send a GET without the
// spans, and a 2xx answer to that GET would count spans never sent as
// accepted: the redirect itself is the answer then, a wrong endpoint URL.
// Nor is a redirect to another host followed (it would get the configured
// headers, API keys among them: net/http drops only Authorization and
// cookies), or from https to plain http (the spans in clear).
func sameMethod(req *http.Request, via []*http.Request) error {
	first := via[0].URL
	switch {
	case len(via) >= 10:
		return errors.New("stopped after 10 redirects")
	case req.Method != via[0].Method,
		!strings.EqualFold(req.URL.Hostname(), first.Hostname()),
		first.Scheme == "https" && req.URL.Scheme != "https":
		return http.ErrUseLastResponse
	}
	return nil
}

// isTimeout reports a deadline hit anywhere in a request (dial, TLS,
// headers, body).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// bodyKey is the context key of the encoded request recordingTransport
// sends in place of the body otlptracehttp made.
type bodyKey struct{}

// errNoBody: a request reached the transport without the encoded spans.
var errNoBody = errors.New("export request without its encoded spans in the context: not sent")

// recordingTransport sends the encoded request carried in the request's
// context (bodyKey), gzipped when gzip is set, and remembers the last
// response's status, Retry-After and OTLP partial success. The forwarder
// sends one request at a time.
type recordingTransport struct {
	next http.RoundTripper
	gzip bool
	mu   sync.Mutex
	last exportResult
}

func (t *recordingTransport) reset() {
	t.mu.Lock()
	t.last = exportResult{}
	t.mu.Unlock()
}

func (t *recordingTransport) result() exportResult {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.last
}

var gzipPool = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	return w
}}

// gzipBytes compresses raw at BestSpeed.
func gzipBytes(raw []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(raw) / 4)
	zw := gzipPool.Get().(*gzip.Writer)
	zw.Reset(&buf)
	_, werr := zw.Write(raw)
	cerr := zw.Close()
	gzipPool.Put(zw)
	if err := errors.Join(werr, cerr); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// withBody is req with the encoded request from its context as the body
// (gzipped when gz), in place of the one the client made. Only a POST
// carries it: a GET is the client following a 301, 302 or 303 redirect,
// which drops the body.
func withBody(req *http.Request, gz bool) (*http.Request, error) {
	if req.Method != http.MethodPost {
		return req, nil
	}
	if req.Body != nil {
		req.Body.Close() // otlptracehttp's own, empty
	}
	body, ok := req.Context().Value(bodyKey{}).([]byte)
	if !ok {
		return nil, errNoBody
	}
	out := req.Clone(req.Context())
	out.Header.Del("Content-Encoding")
	if gz {
		var err error
		if body, err = gzipBytes(body); err != nil {
			return nil, fmt.Errorf("gzip the request: %w", err)
		}
		out.Header.Set("Content-Encoding", "gzip")
	}
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	out.ContentLength = int64(len(body))
	return out, nil
}

func (t *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req, err := withBody(req, t.gzip)
	if err != nil {
		return nil, err
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	r := exportResult{status: resp.StatusCode, retryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 && resp.Body != nil {
		body, rerr := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		resp.Body.Close()
		if rerr != nil {
			// The partial success (spans refused) is in the body: a 2xx
			// whose body stalls or breaks off is no answer. A failed
			// attempt, retried; the spans stay.
			t.mu.Lock()
			t.last = exportResult{}
			t.mu.Unlock()
			return nil, fmt.Errorf("HTTP %d, then reading the response body failed: %w", resp.StatusCode, rerr)
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		if len(body) > 0 {
			var out coltracepb.ExportTraceServiceResponse
			var derr error
			if resp.Header.Get("Content-Type") == "application/json" {
				derr = protojson.Unmarshal(body, &out)
			} else {
				derr = proto.Unmarshal(body, &out)
			}
			ct := strings.ToLower(resp.Header.Get("Content-Type"))
			r.webPage = derr != nil && strings.HasPrefix(ct, "text/html")
			if derr == nil && out.PartialSuccess != nil {
				r.rejected = max(out.PartialSuccess.RejectedSpans, 0)
				r.rejectMsg = clip(out.PartialSuccess.ErrorMessage, maxMessage)
			}
		}
	}
	t.mu.Lock()
	t.last = r
	t.mu.Unlock()
	return resp, nil
}

// parseRetryAfter reads delta-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// fileSink writes one OTLP/JSON ExportTraceServiceRequest per line (hex ids,
// as the OTLP JSON encoding requires) to a size-rotated file under the state
// dir. It is what the daemon does when no server is configured. A batch is
// written whole or not at all: a failed write is cut off again, and a torn
// last line (a crash mid-write) is cut off before the next batch.
type fileSink struct {
	dir      string
	maxBytes int64
	keep     int
	open     func(path string) (sinkFile, error) // the test seam for write faults
	mu       sync.Mutex
}

// sinkFile is what the sink needs of an *os.File.
type sinkFile interface {
	io.Writer
	io.ReaderAt
	Stat() (os.FileInfo, error)
	Truncate(size int64) error
	Sync() error
	Close() error
}

// SinkFile is the current file of the local sink.
func SinkFile(dir string) string { return filepath.Join(dir, "traces.jsonl") }

func newFileSink(dir string, maxBytes int64) (*fileSink, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("file sink folder: %w", err)
	}
	open := func(path string) (sinkFile, error) {
		return os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	}
	return &fileSink{dir: dir, maxBytes: maxBytes, keep: 5, open: open}, nil
}

// export decodes the request once: the file takes OTLP/JSON.
func (f *fileSink) export(_ context.Context, body []byte) exportResult {
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		return exportResult{err: fmt.Errorf("decoding the spans: %w", err), status: 400}
	}
	line, err := OTLPJSON(&req)
	if err != nil {
		return exportResult{err: err, status: 400}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	path := SinkFile(f.dir)
	if fi, err := os.Stat(path); err == nil && fi.Size()+int64(len(line)) > f.maxBytes {
		f.rotate(path)
	}
	out, err := f.open(path)
	if err != nil {
		return exportResult{err: fmt.Errorf("file sink: %w", err)}
	}
	if err := appendLine(out, append(line, '\n')); err != nil {
		out.Close()
		return exportResult{err: fmt.Errorf("file sink %s: %w", path, err)}
	}
	if err := out.Close(); err != nil {
		return exportResult{err: fmt.Errorf("file sink %s: %w", path, err)}
	}
	return exportResult{status: 200}
}

// appendLine appends line to out after its last complete line, and cuts the
// file back there when the write or the sync fails: a reader never finds a
// partial line, and a retry starts on a line of its own.
func appendLine(out sinkFile, line []byte) error {
	fi, err := out.Stat()
	if err != nil {
		return err
	}
	good, err := lastLineEnd(out, fi.Size())
	if err != nil {
		return err
	}
	if fi.Size() != good {
		if err := out.Truncate(good); err != nil {
			return fmt.Errorf("cutting off a torn last line: %w", err)
		}
	}
	_, werr := out.Write(line)
	if werr == nil {
		werr = out.Sync()
	}
	if werr != nil {
		if terr := out.Truncate(good); terr != nil {
			return fmt.Errorf("%w (and cutting off the partial line failed: %w)", werr, terr)
		}
		return werr
	}
	return nil
}

// lastLineEnd is the offset just after the last newline in the first size
// bytes of f (0 if none).
func lastLineEnd(f sinkFile, size int64) (int64, error) {
	end := size
	buf := make([]byte, 1, 64<<10) // the last byte first: usually a newline
	for end > 0 {
		n := min(int64(len(buf)), end)
		if _, err := f.ReadAt(buf[:n], end-n); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return end - n + int64(i) + 1, nil
		}
		end -= n
		buf = buf[:cap(buf)]
	}
	return 0, nil
}

func (f *fileSink) rotate(path string) {
	for i := f.keep - 1; i >= 1; i-- {
		_ = os.Rename(fmt.Sprintf("%s.%d", path, i), fmt.Sprintf("%s.%d", path, i+1))
	}
	_ = os.Rename(path, path+".1")
	_ = os.Remove(fmt.Sprintf("%s.%d", path, f.keep+1))
}

func (f *fileSink) close() {}

// OTLPJSON encodes a request in the OTLP/JSON encoding: protobuf JSON with
// lowerCamelCase names and enum numbers, but trace and span ids as hex
// rather than protobuf's base64.
func OTLPJSON(req *coltracepb.ExportTraceServiceRequest) ([]byte, error) {
	b, err := protojson.MarshalOptions{UseEnumNumbers: true}.Marshal(req)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	hexIDs(doc)
	return json.Marshal(doc)
}

func hexIDs(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			switch k {
			case "traceId", "spanId", "parentSpanId":
				if s, ok := val.(string); ok {
					if raw, err := base64.StdEncoding.DecodeString(s); err == nil {
						x[k] = hex.EncodeToString(raw)
					}
				}
			default:
				hexIDs(val)
			}
		}
	case []any:
		for _, e := range x {
			hexIDs(e)
		}
	}
}
