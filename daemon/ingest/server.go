package ingest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/weave-agentd/weave-agentd/hooks"
)

// server accepts connections on the Unix socket; each connection carries one
// request and one response.
type server struct {
	ln   *net.UnixListener
	path string
	log  *slog.Logger
	wg   sync.WaitGroup

	// onBad is called for each malformed request frame (counted in the
	// spool); a warning is logged at most once per badLogEvery.
	onBad func()

	// peer reads a connection's peer uid (peerUID; a seam for tests).
	peer func(*net.UnixConn) (int, error)

	// budget bounds the request bytes held at once across connections.
	budget *byteBudget

	mu      sync.Mutex
	closed  bool
	badLast time.Time
	badN    int
}

const badLogEvery = 10 * time.Second

// PrepareFolders makes the socket's folder and the state folder, or refuses
// either when another user could control it. It runs before anything is
// written under the state folder, so a refused start leaves nothing behind.
// The socket's folder differs from the state folder only for the /tmp
// fallback of a long state path: there another user may have made "our"
// folder first, to receive every hook payload, unredacted, and to print
// into the agent's session.
func PrepareFolders(p hooks.Paths) error {
	if dir := filepath.Dir(p.Socket); dir != p.StateDir {
		if err := privateDir(dir, "socket folder"); err != nil {
			return err
		}
	}
	return privateDir(p.StateDir, "state folder")
}

// privateDir makes dir (0700) if missing, refuses it when it is a symbolic
// link, someone else's, or writable by others (hooks.CheckPrivateDir), and
// closes it to others' reading.
func privateDir(dir, kind string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("%s: %w", kind, err)
	}
	if err := hooks.CheckPrivateDir(dir, kind); err != nil {
		if ue, ok := errors.AsType[*hooks.UntrustedError](err); ok {
			return fmt.Errorf("refusing to start: %w\nhint: %s", err, ue.Hint())
		}
		return fmt.Errorf("%s: %w", kind, err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("%s: %w", kind, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("%s %s is readable by others and cannot be made private: %w", kind, dir, err)
		}
	}
	return nil
}

// listen takes the socket path in a folder PrepareFolders accepted: a stale
// socket from a crashed run replaced, a live one refused.
func listen(path string, log *slog.Logger) (*server, error) {
	if err := privateDir(filepath.Dir(path), "socket folder"); err != nil {
		return nil, err
	}
	if _, err := os.Lstat(path); err == nil {
		if c, err := net.DialTimeout("unix", path, 200*time.Millisecond); err == nil {
			c.Close()
			return nil, fmt.Errorf("another weave-agentd daemon is listening on %s: use 'weave-agentd status', or stop it first", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale socket %s: %w", path, err)
		}
	}
	old := umask(0o177)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	umask(old)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	ln.SetUnlinkOnClose(true)
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("socket mode: %w", err)
	}
	return &server{ln: ln, path: path, log: log, peer: peerUID, budget: newByteBudget(frameBudget)}, nil
}

type handler func(req *hooks.Request) *hooks.Response

func (s *server) serve(h handler) {
	for {
		conn, err := s.ln.AcceptUnix()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed || errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("accept failed", "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handleConn(conn, h)
		}()
	}
}

func (s *server) handleConn(conn *net.UnixConn, h handler) {
	defer conn.Close()
	uid, err := s.peer(conn)
	switch {
	case errors.Is(err, errors.ErrUnsupported):
		// No peer credentials on this platform: the 0700 folder and the
		// 0600 socket keep other users out.
	case err != nil:
		s.log.Warn("refused a connection whose user cannot be read", "err", err)
		return
	case uid != os.Getuid():
		s.log.Warn("refused a connection from another user", "uid", uid)
		return
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var hdr [4]byte
	_, err = io.ReadFull(conn, hdr[:])
	if errors.Is(err, io.EOF) {
		return // closed before sending anything: a probe, not a bad frame
	}
	if err == nil {
		cost := frameCost(binary.BigEndian.Uint32(hdr[:]))
		if err := s.reserve(cost); err != nil {
			s.log.Debug("request refused: too many large requests at once", "err", err)
			_ = hooks.WriteFrame(conn, &hooks.Response{V: hooks.ProtocolVersion,
				Error: "daemon busy: " + err.Error() + " (the hook keeps the event in its inbox journal)"})
			return
		}
		defer s.budget.release(cost)
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	}
	var req hooks.Request
	if err == nil {
		// The header is read already; ReadFrame reads it again from here.
		err = hooks.ReadFrame(io.MultiReader(bytes.NewReader(hdr[:]), conn), hooks.MaxFrame, &req)
	}
	if err != nil {
		s.badFrame(err)
		_ = hooks.WriteFrame(conn, &hooks.Response{V: hooks.ProtocolVersion, Error: "bad request: " + err.Error()})
		return
	}
	if req.V != hooks.ProtocolVersion {
		_ = hooks.WriteFrame(conn, &hooks.Response{V: hooks.ProtocolVersion,
			Error: fmt.Sprintf("protocol v%d is not supported by this daemon (v%d): upgrade both binaries together and restart the daemon", req.V, hooks.ProtocolVersion)})
		return
	}
	_ = conn.SetReadDeadline(time.Time{})
	resp := h(&req)
	resp.V = hooks.ProtocolVersion
	_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := hooks.WriteFrame(conn, resp); err != nil {
		s.log.Debug("write response", "err", err)
	}
}

// badFrame counts a malformed request and logs it, rate-limited: a flood of
// junk must not flood the log. The error never quotes the frame's content.
func (s *server) badFrame(err error) {
	if s.onBad != nil {
		s.onBad()
	}
	s.mu.Lock()
	s.badN++
	now := time.Now()
	if now.Sub(s.badLast) < badLogEvery {
		s.mu.Unlock()
		return
	}
	n := s.badN
	s.badLast, s.badN = now, 0
	s.mu.Unlock()
	s.log.Warn("skipped malformed request frames on the socket", "count", n, "last_err", err)
}

// frameBudget is how many bytes of request frames the daemon holds at once
// across connections (see byteBudget): one frame of the largest size and
// half as much in smaller ones. Decoding, redacting and storing an event
// take about four times its size; with this budget a flood of 8 MiB frames
// keeps the live heap near 35 MiB, under the 64 MiB soft limit
// (TestManyLargeFramesAtOnceKeepTheHeapBounded). A hook whose request waits
// longer than its timeout journals the event to the inbox instead.
const frameBudget = hooks.MaxFrame + hooks.MaxFrame/2

// frameCost is what a frame of declared size n reserves: its bytes and a
// connection's own overhead, so that many small requests are bounded too.
// A frame over hooks.MaxFrame reserves nothing (ReadFrame refuses it
// before allocating).
func frameCost(n uint32) int64 {
	if n > hooks.MaxFrame {
		return 0
	}
	return int64(n) + 4<<10
}

// reserve takes cost bytes of the frame budget, waiting at most the read
// deadline for them.
func (s *server) reserve(cost int64) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.budget.acquire(ctx, cost)
}

func (s *server) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.ln.Close()
}

func (s *server) wait() { s.wg.Wait() }
