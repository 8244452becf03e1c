package crash

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/e2e/internal/receiver"

	"github.com/weave-agentd/weave-agentd/e2e/internal/localhttp"
)

// GenHeader carries the generation of the daemon process that sent an
// export request (set through the config's headers at each start).
const GenHeader = "X-Crash-Gen"

// Front is a pass-through OTLP/HTTP front that records, for every request,
// the sender's generation, the upstream's verdict and the spans. Unlike a
// proxy bound to the client's request, it finishes forwarding a request
// whose client died meanwhile (a SIGKILLed daemon), so that what it records
// as accepted is exactly what the server accepted.
type Front struct {
	upstream string
	http     *localhttp.Server
	client   *http.Client

	mu   sync.Mutex
	sent []Sent
	errs []string
}

// NewFront starts a front on 127.0.0.1 forwarding to upstream (a base URL;
// the request path is kept) and stops it when the test ends.
func NewFront(t testing.TB, upstream string) *Front {
	t.Helper()
	f := &Front{upstream: strings.TrimRight(upstream, "/"),
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}}
	f.http = localhttp.Start(t, "front", f)
	return f
}

// URL is the front's traces URL.
func (f *Front) URL() string { return f.http.URL() + receiver.TracesPath }

// Sent returns every request so far, in the order the upstream answered.
func (f *Front) Sent() []Sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Sent(nil), f.sent...)
}

// Errors lists requests that could not be decoded or forwarded.
func (f *Front) Errors() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.errs...)
}

func (f *Front) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	gen, _ := strconv.Atoi(req.Header.Get(GenHeader))
	spans, derr := receiver.Request{Body: body, ContentType: req.Header.Get("Content-Type"),
		ContentEncoding: req.Header.Get("Content-Encoding")}.DecodeSpans()
	// Not req.Context(): the upstream must get the whole request even if
	// the daemon that sent it is killed meanwhile.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := http.NewRequestWithContext(ctx, req.Method, f.upstream+req.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	out.Header = req.Header.Clone()
	resp, err := f.client.Do(out)
	f.mu.Lock()
	switch {
	case err != nil:
		f.errs = append(f.errs, "forward: "+err.Error())
	case derr != nil:
		f.errs = append(f.errs, "decode: "+derr.Error())
	}
	if err == nil {
		f.sent = append(f.sent, Sent{Gen: gen, Accepted: resp.StatusCode/100 == 2, At: time.Now(), Spans: spans})
	}
	f.mu.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	CopyResponse(w, resp)
}

// CopyResponse relays an upstream response (header, status, body) to w and
// closes its body.
func CopyResponse(w http.ResponseWriter, resp *http.Response) {
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}
