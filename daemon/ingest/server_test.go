package ingest

import (
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/hooks"
)

// A connection whose peer credentials cannot be read is refused: an unknown
// user is not us (the check used to let it through).
func TestConnectionOfUnknownUserIsRefused(t *testing.T) {
	dir, err := os.MkdirTemp("", "wat-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	srv, err := listen(filepath.Join(dir, "agentd.sock"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv.peer = func(*net.UnixConn) (int, error) { return 0, errors.New("getsockopt: bad file descriptor") }
	var handled atomic.Bool
	go srv.serve(func(*hooks.Request) *hooks.Response { handled.Store(true); return &hooks.Response{OK: true} })
	t.Cleanup(func() { srv.close(); srv.wait() })
	_, err = hooks.Call(srv.path, 2*time.Second, &hooks.Request{Op: hooks.OpStatus})
	if err == nil || handled.Load() {
		t.Fatalf("a connection of unknown user was served (err %v)", err)
	}
}
