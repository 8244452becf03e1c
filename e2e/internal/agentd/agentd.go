// Package agentd builds the real weave-agentd binaries once per test process
// and runs them as separate processes — the daemon, the hook client and the
// CLI — exactly as an agent and a user would.
package agentd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// RepoRoot is the weave-agentd module root (the e2e module's parent).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

// Fixtures is ../shared/fixtures beside the repository; "" if absent.
func Fixtures() string {
	p := filepath.Join(RepoRoot(), "..", "shared", "fixtures")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// Bins builds weave-agentd and weave-agentd-hook once and returns the folder.
func Bins(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "weave-agentd-e2e-bin-")
		if buildErr != nil {
			return
		}
		for _, name := range []string{"weave-agentd", "weave-agentd-hook"} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(binDir, name), "./cmd/"+name)
			cmd.Dir = RepoRoot()
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", name, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

// Home is one isolated weave-agentd home (WEAVE_AGENTD_HOME) plus a HOME.
type Home struct {
	t    testing.TB
	Dir  string // WEAVE_AGENTD_HOME
	HOME string
	Bin  string
	Env  []string // extra environment for every process (e.g. the endpoint)
}

// NewHome makes a fresh home under t.TempDir. The path is kept short so the
// socket fits in sun_path.
func NewHome(t testing.TB) *Home {
	t.Helper()
	dir, err := os.MkdirTemp("", "wa-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	h := &Home{t: t, Dir: filepath.Join(dir, "h"), HOME: filepath.Join(dir, "home"), Bin: Bins(t)}
	os.MkdirAll(h.HOME, 0o700)
	return h
}

// Environ is the environment for our processes.
func (h *Home) Environ(extra ...string) []string {
	env := []string{"WEAVE_AGENTD_HOME=" + h.Dir, "HOME=" + h.HOME, "PATH=" + os.Getenv("PATH")}
	env = append(env, h.Env...)
	return append(env, extra...)
}

// WriteConfig writes config.toml.
func (h *Home) WriteConfig(toml string) {
	h.t.Helper()
	os.MkdirAll(h.Dir, 0o700)
	if err := os.WriteFile(filepath.Join(h.Dir, "config.toml"), []byte(toml), 0o600); err != nil {
		h.t.Fatal(err)
	}
}

// Daemon is a running `weave-agentd run`.
type Daemon struct {
	h    *Home
	cmd  *exec.Cmd
	log  *bytes.Buffer
	done chan error
}

// lockedBuffer is a bytes.Buffer safe for the process's writer goroutine.
type syncWriter struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// StartDaemon starts the daemon and waits until `status` answers.
func (h *Home) StartDaemon() *Daemon {
	h.t.Helper()
	d := &Daemon{h: h, log: &bytes.Buffer{}, done: make(chan error, 1)}
	d.cmd = exec.Command(filepath.Join(h.Bin, "weave-agentd"), "run")
	d.cmd.Env = h.Environ()
	w := &syncWriter{b: d.log}
	d.cmd.Stdout, d.cmd.Stderr = w, w
	if err := d.cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if r := h.CLI("status", "--json"); r.Code != 3 {
			break
		}
		select {
		case err := <-d.done:
			h.t.Fatalf("daemon exited at start: %v\n%s", err, d.Log())
		default:
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("daemon did not answer within 10s\n%s", d.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.t.Cleanup(func() { d.Stop() })
	return d
}

// Log is what the daemon wrote so far.
func (d *Daemon) Log() string {
	w := d.cmd.Stdout.(*syncWriter)
	w.mu.Lock()
	defer w.mu.Unlock()
	return d.log.String()
}

// Pid is the daemon's process id.
func (d *Daemon) Pid() int { return d.cmd.Process.Pid }

// Stop sends SIGTERM and waits (idempotent).
func (d *Daemon) Stop() {
	if d.cmd.ProcessState != nil {
		return
	}
	_ = d.cmd.Process.Signal(os.Interrupt)
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
	}
}

// Kill sends SIGKILL (a crash) and waits.
func (d *Daemon) Kill() {
	if d.cmd.ProcessState != nil {
		return
	}
	_ = d.cmd.Process.Kill()
	<-d.done
}

// Result is a finished process.
type Result struct {
	Code     int
	Stdout   string
	Stderr   string
	Duration time.Duration
}

// Hook runs the real weave-agentd-hook binary with payload on stdin.
func (h *Home) Hook(payload []byte, args ...string) Result {
	h.t.Helper()
	return h.run(payload, filepath.Join(h.Bin, "weave-agentd-hook"), args...)
}

// CLI runs `weave-agentd ARGS...`.
func (h *Home) CLI(args ...string) Result {
	h.t.Helper()
	return h.run(nil, filepath.Join(h.Bin, "weave-agentd"), args...)
}

func (h *Home) run(stdin []byte, bin string, args ...string) Result {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = h.Environ()
	var out, errb bytes.Buffer
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := Result{Stdout: out.String(), Stderr: errb.String(), Duration: time.Since(start)}
	if ee, ok := err.(*exec.ExitError); ok {
		r.Code = ee.ExitCode()
	} else if err != nil {
		h.t.Fatalf("%s %v: %v", bin, args, err)
	}
	return r
}

// Status runs `status --json` and decodes it.
func (h *Home) Status() (map[string]any, int) {
	h.t.Helper()
	r := h.CLI("status", "--json")
	var m map[string]any
	if err := json.Unmarshal([]byte(r.Stdout), &m); err != nil {
		h.t.Fatalf("status --json: %v\n%s%s", err, r.Stdout, r.Stderr)
	}
	return m, r.Code
}

// CopyFile copies src to dst (creating folders).
func CopyFile(t testing.TB, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	os.MkdirAll(filepath.Dir(dst), 0o700)
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	out.Close()
}

// RewriteTranscriptPath points a fixture payload at a local transcript copy.
func RewriteTranscriptPath(t testing.TB, payload []byte, path string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["transcript_path"]; ok || path != "" {
		m["transcript_path"] = path
	}
	b, _ := json.Marshal(m)
	return b
}

// Contains reports whether s contains all of subs.
func Contains(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
