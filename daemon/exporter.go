package daemon

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
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// exportResult is what one export attempt came to.
type exportResult struct {
	err        error
	status     int           // HTTP status (0: no response)
	retryAfter time.Duration // from Retry-After, if any
	rejected   int64         // OTLP partial success: spans the server rejected
	rejectMsg  string
}

// permanent reports a rejection that retrying cannot fix: a 4xx other than
// 408 and 429.
func (r exportResult) permanent() bool {
	return r.err != nil && r.status >= 400 && r.status < 500 && r.status != 408 && r.status != 429
}

type exporter interface {
	export(ctx context.Context, rs []*tracepb.ResourceSpans) exportResult
	close()
}

func newExporter(set Settings) (exporter, error) {
	if set.Target.URL == "" {
		return newFileSink(set.Paths.SinkDir, set.SinkMaxBytes)
	}
	return newOTLPExporter(set)
}

// otlpExporter sends with the OpenTelemetry otlptracehttp client (protobuf,
// gzip), its retry disabled: the spool owns backoff. A recording transport
// reads the status code, Retry-After and partial success of each response.
type otlpExporter struct {
	client otlptrace.Client
	rec    *recordingTransport
}

func newOTLPExporter(set Settings) (*otlpExporter, error) {
	base, err := baseTransport(set)
	if err != nil {
		return nil, err
	}
	rec := &recordingTransport{next: base}
	opts := []otlptracehttp.Option{
		otlptracehttp.WithEndpointURL(set.Target.URL),
		// gzip happens in the transport, at BestSpeed: the exporter's default
		// level cost a third of the daemon's CPU during a backfill.
		otlptracehttp.WithCompression(otlptracehttp.NoCompression),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}),
		otlptracehttp.WithTimeout(30 * time.Second),
		otlptracehttp.WithHTTPClient(&http.Client{Transport: rec}),
	}
	if len(set.Target.Headers) > 0 {
		opts = append(opts, otlptracehttp.WithHeaders(set.Target.Headers))
	}
	c := otlptracehttp.NewClient(opts...)
	if err := c.Start(context.Background()); err != nil {
		return nil, fmt.Errorf("start OTLP client: %w", err)
	}
	return &otlpExporter{client: c, rec: rec}, nil
}

// baseTransport honours proxy (config, else HTTPS_PROXY/NO_PROXY), a custom
// CA and a client certificate.
func baseTransport(set Settings) (*http.Transport, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = http.ProxyFromEnvironment
	if p := set.Config.Proxy; p != "" {
		u, err := url.Parse(p)
		if err != nil {
			return nil, fmt.Errorf("proxy %q: %w", p, err)
		}
		tr.Proxy = http.ProxyURL(u)
	}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if f := set.Config.CAFile; f != "" {
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
	if set.Config.ClientCert != "" {
		cert, err := tls.LoadX509KeyPair(set.Config.ClientCert, set.Config.ClientKey)
		if err != nil {
			return nil, fmt.Errorf("client_cert/client_key: %w", err)
		}
		tlsConf.Certificates = []tls.Certificate{cert}
	}
	tr.TLSClientConfig = tlsConf
	return tr, nil
}

func (e *otlpExporter) export(ctx context.Context, rs []*tracepb.ResourceSpans) exportResult {
	e.rec.reset()
	err := e.client.UploadTraces(ctx, rs)
	r := e.rec.result()
	r.err = err
	if err == nil && r.status == 0 {
		r.status = http.StatusOK
	}
	if r.status >= 200 && r.status < 300 && r.rejected == 0 && r.rejectMsg == "" {
		r.err = nil // a 2xx is acceptance; any other error is from reading the body
	}
	if r.status >= 200 && r.status < 300 && (r.rejected > 0 || r.rejectMsg != "") {
		r.err = nil // accepted with partial success: handled by the forwarder
	}
	return r
}

func (e *otlpExporter) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = e.client.Stop(ctx)
}

// recordingTransport remembers the last response's status, Retry-After and
// OTLP partial success. The forwarder sends one request at a time.
type recordingTransport struct {
	next http.RoundTripper
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

// compress gzips the request body at BestSpeed.
func compress(req *http.Request) (*http.Request, error) {
	if req.Body == nil || req.Header.Get("Content-Encoding") != "" {
		return req, nil
	}
	raw, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
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
	out := req.Clone(req.Context())
	body := buf.Bytes()
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	out.ContentLength = int64(len(body))
	out.Header.Set("Content-Encoding", "gzip")
	return out, nil
}

func (t *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req, err := compress(req)
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
		resp.Body = io.NopCloser(bytes.NewReader(body))
		if rerr == nil && len(body) > 0 {
			var out coltracepb.ExportTraceServiceResponse
			var derr error
			if resp.Header.Get("Content-Type") == "application/json" {
				derr = protojson.Unmarshal(body, &out)
			} else {
				derr = proto.Unmarshal(body, &out)
			}
			if derr == nil && out.PartialSuccess != nil {
				r.rejected = out.PartialSuccess.RejectedSpans
				r.rejectMsg = out.PartialSuccess.ErrorMessage
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
// dir. It is what the daemon does when no server is configured.
type fileSink struct {
	dir      string
	maxBytes int64
	keep     int
	mu       sync.Mutex
}

// SinkFile is the current file of the local sink.
func SinkFile(dir string) string { return filepath.Join(dir, "traces.jsonl") }

func newFileSink(dir string, maxBytes int64) (*fileSink, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("file sink folder: %w", err)
	}
	return &fileSink{dir: dir, maxBytes: maxBytes, keep: 5}, nil
}

func (f *fileSink) export(_ context.Context, rs []*tracepb.ResourceSpans) exportResult {
	line, err := OTLPJSON(&coltracepb.ExportTraceServiceRequest{ResourceSpans: rs})
	if err != nil {
		return exportResult{err: err, status: 400}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	path := SinkFile(f.dir)
	if fi, err := os.Stat(path); err == nil && fi.Size()+int64(len(line)) > f.maxBytes {
		f.rotate(path)
	}
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return exportResult{err: fmt.Errorf("file sink: %w", err)}
	}
	_, werr := out.Write(append(line, '\n'))
	serr := out.Sync()
	cerr := out.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return exportResult{err: fmt.Errorf("file sink: %w", err)}
	}
	return exportResult{status: 200}
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
