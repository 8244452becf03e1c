package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kardianos/service"

	"github.com/weave-agentd/weave-agentd/installer"
)

// installCmdRunner fakes systemctl/loginctl/claude for the CLI tests.
type installCmdRunner struct {
	noBus bool
	argv  []string
}

func (r *installCmdRunner) Run(_ context.Context, name string, args ...string) ([]byte, error) {
	line := strings.Join(append([]string{name}, args...), " ")
	r.argv = append(r.argv, line)
	switch {
	case name == "systemctl" && r.noBus:
		return nil, &installer.RunError{Argv: append([]string{name}, args...), ExitCode: 1, Stderr: "Failed to connect to bus: No medium found", Err: errors.New("exit status 1")}
	case name == "claude":
		return []byte("2.1.291 (Claude Code)\n"), nil
	case strings.Contains(line, "is-active"):
		return []byte("active\n"), nil
	case strings.Contains(line, "is-enabled"):
		return []byte("enabled\n"), nil
	}
	return nil, nil
}

// installCmdService stands in for kardianos/service.
type installCmdService struct {
	service.Service
	path, content string
	calls         *[]string
}

func (s installCmdService) Install() error {
	*s.calls = append(*s.calls, "install")
	os.MkdirAll(filepath.Dir(s.path), 0o755)
	return os.WriteFile(s.path, []byte(s.content), 0o644)
}
func (s installCmdService) Uninstall() error {
	*s.calls = append(*s.calls, "uninstall")
	return os.Remove(s.path)
}
func (s installCmdService) Start() error   { *s.calls = append(*s.calls, "start"); return nil }
func (s installCmdService) Stop() error    { *s.calls = append(*s.calls, "stop"); return nil }
func (s installCmdService) Restart() error { *s.calls = append(*s.calls, "restart"); return nil }

type installCmdWorld struct {
	home   string
	env    map[string]string
	exe    string
	runner *installCmdRunner
	calls  []string
	daemon bool
}

func newInstallCmdWorld(t *testing.T) *installCmdWorld {
	t.Helper()
	w := &installCmdWorld{home: t.TempDir(), runner: &installCmdRunner{}, daemon: true}
	w.env = map[string]string{"HOME": w.home}
	dir := t.TempDir()
	w.exe = filepath.Join(dir, "weave-agentd")
	os.WriteFile(w.exe, []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "weave-agentd-hook"), []byte("#!/bin/sh\n"), 0o755)
	old := installerSettings
	installerSettings = func(e *env) installer.Settings {
		s := old(e)
		s.Runner = w.runner
		s.GOOS = "linux"
		s.Prober = installer.ProbeFunc(func(context.Context) error {
			if w.daemon {
				return nil
			}
			return errors.New("refused")
		})
		s.NewService = func(c *service.Config) (service.Service, error) {
			return installCmdService{
				path:    filepath.Join(w.home, ".config", "systemd", "user", c.Name+".service"),
				content: c.Option["SystemdScript"].(string),
				calls:   &w.calls,
			}, nil
		}
		return s
	}
	t.Cleanup(func() { installerSettings = old })
	return w
}

func (w *installCmdWorld) run(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	e := &env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return w.env[k] }, Args0: w.exe}
	code = Main(context.Background(), args, e)
	return code, out.String(), errb.String()
}

func TestInstallCmdHelpTeaches(t *testing.T) {
	w := newInstallCmdWorld(t)
	for name, wants := range map[string][]string{
		"install":   {"--weave-project", "--endpoint", "--header", "--content", "Examples:", "idempotent", "WANDB_API_KEY"},
		"uninstall": {"--purge", "Examples:"},
		"hooks":     {"install|uninstall|status", "--project", "Examples:", ".weave-agentd.bak"},
		"doctor":    {"ok|warn|FAIL", "cleanupPeriodDays", "Example:"},
		"start":     {"Example:"},
		"stop":      {"inbox"},
		"restart":   {"SIGHUP"},
	} {
		code, out, _ := w.run("help", name)
		if code != 0 {
			t.Errorf("help %s: exit %d", name, code)
		}
		for _, want := range wants {
			if !strings.Contains(out, want) && !strings.Contains(strings.ToLower(out), strings.ToLower(want)) {
				t.Errorf("help %s lacks %q", name, want)
			}
		}
	}
	_, out, _ := w.run("help")
	for _, name := range []string{"install", "uninstall", "start", "stop", "restart", "hooks", "doctor"} {
		if !strings.Contains(out, "  "+name+" ") {
			t.Errorf("command list lacks %s:\n%s", name, out)
		}
	}
}

func TestInstallCmdFlow(t *testing.T) {
	w := newInstallCmdWorld(t)
	os.MkdirAll(filepath.Join(w.home, ".claude"), 0o755)
	code, out, errOut := w.run("install", "--endpoint", "http://localhost:4318/v1/traces", "--header", "x-team=a", "--header", "x-env=prod")
	if code != 0 {
		t.Fatalf("install: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"config ", "binary ", "service ", "the daemon answers", "hooks    Claude Code: registered", "weave-agentd status"} {
		if !strings.Contains(out, want) {
			t.Errorf("install output lacks %q:\n%s", want, out)
		}
	}
	cfg, _ := os.ReadFile(filepath.Join(w.home, ".config", "weave-agentd", "config.toml"))
	if !strings.Contains(string(cfg), "x-env") || !strings.Contains(string(cfg), "localhost:4318") {
		t.Errorf("config:\n%s", cfg)
	}

	// Flags after the subcommand are parsed.
	code, out, _ = w.run("hooks", "status", "--claude")
	if code != 0 || !strings.Contains(out, "registered, 12 event(s)") {
		t.Errorf("hooks status: exit %d\n%s", code, out)
	}
	if code, _, _ = w.run("hooks", "uninstall", "--claude"); code != 0 {
		t.Errorf("hooks uninstall: exit %d", code)
	}
	code, out, _ = w.run("hooks", "status", "--claude")
	if code != 1 || !strings.Contains(out, "not registered") {
		t.Errorf("hooks status after uninstall: exit %d\n%s", code, out)
	}
	if code, _, _ = w.run("hooks", "install", "--claude"); code != 0 {
		t.Errorf("hooks install: exit %d", code)
	}
	proj := t.TempDir()
	if code, out, _ = w.run("hooks", "install", "--claude", "--project", proj); code != 0 || !strings.Contains(out, filepath.Join(proj, ".claude", "settings.local.json")) {
		t.Errorf("hooks install --project: exit %d\n%s", code, out)
	}
	if code, out, _ = w.run("hooks", "status", "--claude", "--project", proj); code != 0 || !strings.Contains(out, "project "+proj) || !strings.Contains(out, "registered, 12") {
		t.Errorf("hooks status --project: exit %d\n%s", code, out)
	}
	if code, _, errOut = w.run("hooks", "frobnicate"); code != 2 || !strings.Contains(errOut, "install, uninstall or status") {
		t.Errorf("bad subcommand: exit %d %s", code, errOut)
	}

	w.calls = nil
	for _, c := range []string{"stop", "start", "restart"} {
		if code, out, errOut := w.run(c); code != 0 {
			t.Errorf("%s: exit %d %s%s", c, code, out, errOut)
		}
	}
	if strings.Join(w.calls, ",") != "stop,start,restart" {
		t.Errorf("service calls %v", w.calls)
	}

	// doctor: the endpoint is not running here, so it FAILs and exits 1.
	code, out, _ = w.run("doctor")
	if code != 1 || !strings.Contains(out, "FAIL  endpoint http://localhost:4318/v1/traces") || !strings.Contains(out, "ok    daemon answers") {
		t.Errorf("doctor: exit %d\n%s", code, out)
	}

	code, out, _ = w.run("uninstall", "--purge")
	if code != 0 {
		t.Fatalf("uninstall: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(w.home, ".local", "state", "weave-agentd")); err == nil {
		t.Error("state left after --purge")
	}
	if code, _, errOut = w.run("start"); code != 1 || !strings.Contains(errOut, "not installed") {
		t.Errorf("start after uninstall: exit %d %s", code, errOut)
	}
}

func TestInstallCmdNoUserBus(t *testing.T) {
	w := newInstallCmdWorld(t)
	w.runner.noBus = true
	os.MkdirAll(filepath.Join(w.home, ".cursor"), 0o755)
	code, out, errOut := w.run("install")
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"weave-agentd install: no per-user service manager", "weave-agentd run", "loginctl enable-linger $USER"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if !strings.Contains(out, "hooks    Cursor: registered") || !strings.Contains(out, "nothing is lost") {
		t.Errorf("stdout:\n%s", out)
	}
	if len(w.calls) != 0 {
		t.Errorf("service touched: %v", w.calls)
	}
}

func TestInstallCmdUsageErrors(t *testing.T) {
	w := newInstallCmdWorld(t)
	for _, args := range [][]string{
		{"install", "--content", "all"},
		{"install", "--header", "novalue"},
		{"install", "extra"},
		{"uninstall", "now"},
		{"hooks"},
	} {
		if code, _, errOut := w.run(args...); code != 2 || errOut == "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
}
