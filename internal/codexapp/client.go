// Package codexapp talks to `codex app-server`, the JSON-RPC 2.0 service of
// Codex CLI over stdin/stdout (one JSON object per line), for the few calls
// that record and check the trust of hooks the way Codex's own UI does:
// initialize, hooks/list and config/batchWrite. It also computes a hook's
// trust hash from the files alone (hash.go), for a cheap check.
//
// Every call has a deadline (its context), and the process is always
// reaped: Close ends it, its process group included.
package codexapp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultMaxMessage bounds one message from the server (a hooks/list
// answer is a few KB per hook).
const DefaultMaxMessage = 16 << 20

// Options say how to start the app-server.
type Options struct {
	Binary string   // the codex executable (absolute, or found on the PATH of Env)
	Env    []string // its environment (CODEX_HOME selects the home it edits)
	Dir    string   // its working folder; "": ours
	// MaxMessage bounds one message from the server; 0: DefaultMaxMessage.
	MaxMessage int
	Logger     *slog.Logger
}

// Client is one running app-server.
type Client struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	log    *slog.Logger
	stderr *tailBuffer

	mu      sync.Mutex
	nextID  int64
	pending map[int64]chan message
	readErr error    // set when the reader stopped
	garbage []string // the first lines that were not JSON-RPC messages
	done    chan struct{}

	closeOnce sync.Once
}

type message struct {
	ID     *json.RawMessage `json:"id,omitempty"`
	Method string           `json:"method,omitempty"`
	Result json.RawMessage  `json:"result,omitempty"`
	Error  *RPCError        `json:"error,omitempty"`
}

// RPCError is an error answer of the server.
type RPCError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *RPCError) Error() string { return fmt.Sprintf("error %d: %s", e.Code, e.Message) }

// Start runs the app-server. The caller must Close it.
func Start(o Options) (*Client, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	cmd := exec.Command(o.Binary, "app-server")
	cmd.Env = o.Env
	cmd.Dir = o.Dir
	// Its own process group, so Close also ends what it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Wait gives up on pipes a leftover child still holds.
	cmd.WaitDelay = time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c := &Client{cmd: cmd, stdin: stdin, log: o.Logger, stderr: &tailBuffer{max: 4 << 10},
		pending: map[int64]chan message{}, done: make(chan struct{})}
	cmd.Stderr = c.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s app-server: %w", o.Binary, err)
	}
	limit := o.MaxMessage
	if limit <= 0 {
		limit = DefaultMaxMessage
	}
	go c.read(stdout, limit)
	return c, nil
}

// read routes the server's answers to their callers; notifications and
// the server's own requests are not for us.
func (c *Client) read(r io.Reader, limit int) {
	br := bufio.NewReaderSize(r, 64<<10)
	var err error
	for {
		var line []byte
		line, err = readLine(br, limit)
		if err != nil {
			break
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var m message
		if json.Unmarshal(line, &m) != nil || (m.ID == nil && m.Method == "") {
			c.mu.Lock()
			if len(c.garbage) < 3 {
				c.garbage = append(c.garbage, clip(string(line), 200))
			}
			c.mu.Unlock()
			continue
		}
		if m.ID == nil || m.Method != "" {
			continue // a notification or a request of the server
		}
		var id int64
		if json.Unmarshal(*m.ID, &id) != nil {
			continue
		}
		c.mu.Lock()
		ch := c.pending[id]
		delete(c.pending, id)
		c.mu.Unlock()
		if ch != nil {
			ch <- m
		}
	}
	c.mu.Lock()
	c.readErr = err
	c.mu.Unlock()
	close(c.done)
}

// errLineTooLong: a message over the limit ends the session.
var errLineTooLong = errors.New("a message over the size limit")

// readLine reads one line of at most limit bytes.
func readLine(br *bufio.Reader, limit int) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		buf = append(buf, chunk...)
		if len(buf) > limit {
			return nil, errLineTooLong
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && len(buf) > 0 {
			return buf, nil
		}
		return buf, err
	}
}

// Call sends one request and decodes its result into result (nil: the
// result is not needed). ctx bounds the wait for the answer.
func (c *Client) Call(ctx context.Context, method string, params, result any) error {
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	ch := make(chan message, 1)
	c.pending[id] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}()
	req, err := json.Marshal(struct {
		JSONRPC string `json:"jsonrpc"`
		ID      int64  `json:"id"`
		Method  string `json:"method"`
		Params  any    `json:"params,omitempty"`
	}{"2.0", id, method, params})
	if err != nil {
		return err
	}
	if err := c.write(ctx, append(req, '\n')); err != nil {
		return c.failure(method, err)
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return fmt.Errorf("codex app-server %s: %w", method, m.Error)
		}
		if result == nil {
			return nil
		}
		if err := json.Unmarshal(m.Result, result); err != nil {
			return fmt.Errorf("codex app-server %s: unexpected answer: %w", method, err)
		}
		return nil
	case <-c.done:
		return c.failure(method, errors.New("its output ended before the answer"))
	case <-ctx.Done():
		return c.failure(method, fmt.Errorf("no answer in time (%w)", context.Cause(ctx)))
	}
}

// Notify sends a notification (no answer).
func (c *Client) Notify(ctx context.Context, method string) error {
	req, _ := json.Marshal(struct {
		JSONRPC string `json:"jsonrpc"`
		Method  string `json:"method"`
	}{"2.0", method})
	if err := c.write(ctx, append(req, '\n')); err != nil {
		return c.failure(method, err)
	}
	return nil
}

// write sends b unless ctx ends first (a server that reads nothing fills
// the pipe).
func (c *Client) write(ctx context.Context, b []byte) error {
	errc := make(chan error, 1)
	go func() {
		_, err := c.stdin.Write(b)
		errc <- err
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		c.Close() // unblocks the writer
		return fmt.Errorf("it does not read its input (%w)", context.Cause(ctx))
	}
}

// failure describes a failed call with what the server left behind: lines
// that were not JSON-RPC, the end of its stderr, why its output ended. A
// failed call ends the session: the server is reaped first, so that its
// stderr is complete.
func (c *Client) failure(method string, err error) error {
	c.Close()
	<-c.done // the reader stops once the pipe is closed
	c.mu.Lock()
	var notes []string
	if c.readErr != nil && c.readErr != io.EOF && !errors.Is(c.readErr, os.ErrClosed) {
		notes = append(notes, "reading its output: "+c.readErr.Error())
	}
	if len(c.garbage) > 0 {
		notes = append(notes, fmt.Sprintf("it wrote lines that are not JSON-RPC, e.g. %q", c.garbage[0]))
	}
	c.mu.Unlock()
	if s := lastLine(c.stderr.String()); s != "" {
		notes = append(notes, "its last message: "+clip(s, 300))
	}
	msg := ""
	if len(notes) > 0 {
		msg = " (" + strings.Join(notes, "; ") + ")"
	}
	return fmt.Errorf("codex app-server %s: %w%s", method, err, msg)
}

// Close ends the server and reaps it: its input is closed and its process
// group killed (every answer we wanted has arrived by then; what it wrote
// it wrote before answering). Safe to call more than once.
func (c *Client) Close() {
	c.closeOnce.Do(func() {
		c.stdin.Close()
		syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL) // the group: it and what it started
		c.cmd.Wait()
	})
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return strings.TrimSpace(stripANSI(s))
}

// stripANSI removes terminal color sequences (Codex colors its log lines).
func stripANSI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
				j++
			}
			i = j
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
