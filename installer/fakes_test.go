package installer

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kardianos/service"
)

// record is the shared, ordered log of what a test's fakes were asked to do.
type record struct {
	mu    sync.Mutex
	lines []string
}

func (r *record) add(s string) {
	r.mu.Lock()
	r.lines = append(r.lines, s)
	r.mu.Unlock()
}

func (r *record) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.lines
	r.lines = nil
	return out
}

// fakeRunner records every argv and answers from a table keyed by the
// joined argv; unknown commands succeed with no output.
type fakeRunner struct {
	rec     *record
	answers map[string]fakeAnswer
}

type fakeAnswer struct {
	stdout string
	stderr string
	code   int
}

func (f *fakeRunner) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	argv := strings.Join(append([]string{name}, args...), " ")
	f.rec.add(argv)
	a, ok := f.answers[argv]
	if !ok {
		return nil, nil
	}
	if a.code != 0 {
		return []byte(a.stdout), &RunError{Argv: append([]string{name}, args...), ExitCode: a.code, Stderr: a.stderr, Err: errors.New("exit status")}
	}
	return []byte(a.stdout), nil
}

// fakeService stands in for kardianos/service: it records the calls and,
// like kardianos, writes the rendered file on Install (refusing to
// overwrite) and deletes it on Uninstall.
type fakeService struct {
	rec  *record
	cfg  *service.Config
	path string
	goos string
	// running is shared between the instances a test creates.
	running *bool
}

func (s *fakeService) Run() error { return nil }
func (s *fakeService) Start() error {
	s.rec.add("service start")
	*s.running = true
	return nil
}
func (s *fakeService) Stop() error {
	s.rec.add("service stop")
	*s.running = false
	return nil
}
func (s *fakeService) Restart() error {
	s.rec.add("service restart")
	*s.running = true
	return nil
}
func (s *fakeService) Install() error {
	s.rec.add("service install")
	if _, err := os.Stat(s.path); err == nil {
		return errors.New("Init already exists: " + s.path)
	}
	key := "SystemdScript"
	if s.goos == "darwin" {
		key = "LaunchdConfig"
	}
	os.MkdirAll(filepath.Dir(s.path), 0o755)
	return os.WriteFile(s.path, []byte(s.cfg.Option[key].(string)), 0o644)
}
func (s *fakeService) Uninstall() error {
	s.rec.add("service uninstall")
	*s.running = false
	return os.Remove(s.path)
}
func (s *fakeService) Logger(chan<- error) (service.Logger, error)       { return nil, nil }
func (s *fakeService) SystemLogger(chan<- error) (service.Logger, error) { return nil, nil }
func (s *fakeService) String() string                                    { return s.cfg.Name }
func (s *fakeService) Platform() string                                  { return "fake" }
func (s *fakeService) Status() (service.Status, error) {
	if *s.running {
		return service.StatusRunning, nil
	}
	return service.StatusStopped, nil
}

// world is a temporary HOME with a built weave-agentd and hook beside it.
type world struct {
	t       *testing.T
	home    string
	env     map[string]string
	exe     string
	rec     *record
	runner  *fakeRunner
	out     *bytes.Buffer
	up      bool // what the prober answers
	running bool
	goos    string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	home := t.TempDir()
	build := filepath.Join(t.TempDir(), "build")
	os.MkdirAll(build, 0o755)
	exe := filepath.Join(build, DaemonBinary)
	os.WriteFile(exe, []byte("#!/bin/sh\necho daemon v1\n"), 0o755)
	os.WriteFile(filepath.Join(build, HookBinary), []byte("#!/bin/sh\nexit 0\n"), 0o755)
	rec := &record{}
	w := &world{
		t:    t,
		home: home,
		env:  map[string]string{"HOME": home},
		exe:  exe,
		rec:  rec,
		runner: &fakeRunner{rec: rec, answers: map[string]fakeAnswer{
			"claude --version": {stdout: "2.1.291 (Claude Code)\n"},
			"loginctl show-user " + uidString() + " --property=Linger --value": {stdout: "yes\n"},
			"systemctl --user is-active " + ServiceName + ".service":           {stdout: "active\n"},
			"systemctl --user is-enabled " + ServiceName + ".service":          {stdout: "enabled\n"},
			"launchctl list " + LaunchdLabel:                                   {stdout: "{\n\t\"PID\" = 4242;\n};\n"},
			"systemctl --user show-environment":                                {stdout: "HOME=/x\n"},
		}},
		out:  &bytes.Buffer{},
		up:   true,
		goos: "linux",
	}
	return w
}

func (w *world) installer() *Installer {
	w.t.Helper()
	in, err := New(Settings{
		Home:       w.home,
		Getenv:     func(k string) string { return w.env[k] },
		Runner:     w.runner,
		Out:        w.out,
		Executable: w.exe,
		GOOS:       w.goos,
		Prober: ProbeFunc(func(ctx context.Context) error {
			if w.up {
				return nil
			}
			return errors.New("connection refused")
		}),
		StartTimeout: 300 * time.Millisecond,
		NewService: func(c *service.Config) (service.Service, error) {
			path := filepath.Join(w.home, ".config", "systemd", "user", c.Name+".service")
			if w.goos == "darwin" {
				path = filepath.Join(w.home, "Library", "LaunchAgents", c.Name+".plist")
			}
			return &fakeService{rec: w.rec, cfg: c, path: path, goos: w.goos, running: &w.running}, nil
		},
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return in
}

func uidString() string { return strconv.Itoa(os.Getuid()) }

// snapshot reads every regular file under root (the whole temporary HOME).
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	m := map[string]string{}
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			rel, _ := filepath.Rel(root, p)
			m[rel] = string(b) + " mode=" + fi.Mode().Perm().String()
		}
		return nil
	})
	return m
}
