package installer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// fakeTools puts shell scripts named systemctl, loginctl and claude first on
// PATH. Each appends its argv to $FAKE_LOG; systemctl fails like a missing
// user bus when $FAKE_NO_BUS is set.
func fakeTools(t *testing.T) (logPath string) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the systemd exec path is Linux-only")
	}
	bin := t.TempDir()
	logPath = filepath.Join(t.TempDir(), "argv.log")
	scripts := map[string]string{
		"systemctl": `#!/bin/sh
echo "systemctl $*" >> "$FAKE_LOG"
if [ -n "$FAKE_NO_BUS" ]; then
  echo 'Failed to connect to bus: No medium found' >&2
  exit 1
fi
case "$*" in
  *is-active*) echo active ;;
  *show-environment*) echo "HOME=$HOME" ;;
esac
exit 0
`,
		"loginctl": `#!/bin/sh
echo "loginctl $*" >> "$FAKE_LOG"
echo no
`,
		"claude": `#!/bin/sh
echo "claude $*" >> "$FAKE_LOG"
echo "2.1.291 (Claude Code)"
`,
	}
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("FAKE_LOG", logPath)
	return logPath
}

func takeLog(t *testing.T, p string) []string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	os.Remove(p)
	s := strings.TrimSpace(string(b))
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// TestRealExecPath runs the production path: ExecRunner and the real
// kardianos/service systemd backend, against fake systemctl/loginctl/claude
// on PATH, and checks the exact argv sequence of install, stop, start,
// restart and uninstall.
func TestRealExecPath(t *testing.T) {
	logPath := fakeTools(t)
	w := newWorld(t)
	os.MkdirAll(filepath.Join(w.home, ".claude"), 0o755)
	t.Setenv("HOME", w.home) // kardianos/service finds the unit folder through $HOME
	in, err := New(Settings{
		Home:         w.home,
		Getenv:       func(k string) string { return w.env[k] },
		Out:          w.out,
		Executable:   w.exe,
		GOOS:         "linux",
		Prober:       ProbeFunc(func(context.Context) error { return nil }),
		StartTimeout: w.installer().s.StartTimeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	uid := uidString()
	unit := ServiceName + ".service"

	if err := in.Install(ctx, Options{Endpoint: "http://localhost:4318/v1/traces"}); err != nil {
		t.Fatalf("install: %v\n%s", err, w.out)
	}
	want := []string{
		"systemctl --user show-environment",
		"loginctl show-user " + uid + " --property=Linger --value",
		"systemctl enable --user " + unit,
		"systemctl daemon-reload --user",
		"systemctl restart --user " + unit,
		"claude --version",
	}
	if got := takeLog(t, logPath); !reflect.DeepEqual(got, want) {
		t.Errorf("install ran\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	b, err := os.ReadFile(filepath.Join(w.home, ".config", "systemd", "user", unit))
	if err != nil || string(b) != RenderSystemdUnit(in.UnitSpec()) {
		t.Errorf("unit written by kardianos/service differs (%v):\n%s", err, b)
	}
	if !strings.Contains(w.out.String(), "lingering is off") {
		t.Errorf("no lingering note:\n%s", w.out)
	}

	// Second install: nothing to reinstall, a restart for the new binaries.
	if err := in.Install(ctx, Options{}); err != nil {
		t.Fatal(err)
	}
	want = []string{
		"systemctl --user show-environment",
		"loginctl show-user " + uid + " --property=Linger --value",
		"systemctl restart --user " + unit,
		"claude --version",
	}
	if got := takeLog(t, logPath); !reflect.DeepEqual(got, want) {
		t.Errorf("second install ran\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	for _, step := range []struct {
		name string
		do   func(context.Context) error
		want []string
	}{
		{"stop", in.Stop, []string{"systemctl --user show-environment", "systemctl stop --user " + unit}},
		{"start", in.Start, []string{"systemctl --user show-environment", "systemctl start --user " + unit}},
		{"restart", in.Restart, []string{"systemctl --user show-environment", "systemctl restart --user " + unit}},
		{"uninstall", func(ctx context.Context) error { return in.Uninstall(ctx, false) }, []string{
			"systemctl --user show-environment",
			"systemctl stop --user " + unit,
			"systemctl disable --user " + unit,
			"systemctl daemon-reload --user",
		}},
	} {
		if err := step.do(ctx); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if got := takeLog(t, logPath); !reflect.DeepEqual(got, step.want) {
			t.Errorf("%s ran\n%s\nwant\n%s", step.name, strings.Join(got, "\n"), strings.Join(step.want, "\n"))
		}
	}
	if fileExists(in.UnitPath()) {
		t.Error("unit left after uninstall")
	}

	// No user bus: the real systemctl's failure becomes the clear message.
	t.Setenv("FAKE_NO_BUS", "1")
	err = in.Install(ctx, Options{})
	if !errors.Is(err, ErrServiceUnavailable) || !strings.Contains(err.Error(), "Failed to connect to bus: No medium found") ||
		!strings.Contains(err.Error(), "loginctl enable-linger") {
		t.Errorf("no bus: %v", err)
	}
	if got := takeLog(t, logPath); !reflect.DeepEqual(got, []string{"systemctl --user show-environment", "claude --version"}) {
		t.Errorf("no bus ran %q", got)
	}
}
