// Package localhttp runs the end-to-end tests' HTTP stand-ins (the fake
// Anthropic, OpenAI and Gemini APIs, fault-injecting and recording fronts) on
// 127.0.0.1, and keeps what they received (Log).
package localhttp

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"
)

// Server is an HTTP server on 127.0.0.1:<free port>.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
}

// Start serves h until Close, which the test's cleanup also calls.
func Start(t testing.TB, name string, h http.Handler) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	s := &Server{srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}, ln: ln, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()
	t.Cleanup(s.Close)
	return s
}

// URL is the base URL, http://127.0.0.1:PORT.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// Close stops the server: requests in flight get 5 s to finish, then their
// connections are closed. Closing twice is harmless.
func (s *Server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		_ = s.srv.Close()
	}
	<-s.done
}
