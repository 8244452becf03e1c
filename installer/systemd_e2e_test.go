//go:build linux

package installer

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSystemdUserE2E installs, controls and removes the service under a real
// `systemd --user`, with the real weave-agentd built from this module.
// Opt-in: it needs root (to start a user manager for a throw-away HOME) and
// /run/systemd/system, which it creates:
//
//	WEAVE_AGENTD_SYSTEMD_E2E=1 go test ./installer -run SystemdUserE2E -v
func TestSystemdUserE2E(t *testing.T) {
	if os.Getenv("WEAVE_AGENTD_SYSTEMD_E2E") != "1" {
		t.Skip("opt-in: WEAVE_AGENTD_SYSTEMD_E2E=1 (needs root; starts a real systemd --user)")
	}
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		t.Skip("needs Linux and root")
	}
	systemd, err := exec.LookPath("systemd")
	if err != nil {
		systemd = "/lib/systemd/systemd"
	}
	if _, err := os.Stat(systemd); err != nil {
		t.Skip("no systemd binary")
	}
	if err := os.MkdirAll("/run/systemd/system", 0o755); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	runDir := t.TempDir()
	os.Chmod(runDir, 0o700)
	t.Setenv("HOME", home)
	t.Setenv("XDG_RUNTIME_DIR", runDir)
	for _, k := range []string{"DBUS_SESSION_BUS_ADDRESS", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "WEAVE_AGENTD_HOME", "CLAUDE_CONFIG_DIR"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}

	// Our own user manager for the throw-away HOME.
	mgr := exec.Command(systemd, "--user")
	var mgrLog bytes.Buffer
	mgr.Stdout, mgr.Stderr = &mgrLog, &mgrLog
	mgr.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := mgr.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		mgr.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { mgr.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-mgr.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	waitFor(t, 15*time.Second, "systemd --user to listen", func() bool {
		_, err := os.Stat(filepath.Join(runDir, "systemd", "private"))
		return err == nil
	})

	// The real binaries.
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+"/", "./cmd/weave-agentd", "./cmd/weave-agentd-hook")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	os.MkdirAll(filepath.Join(home, ".claude"), 0o755)

	var out bytes.Buffer
	in, err := New(Settings{Home: home, Out: &out, Executable: filepath.Join(bin, DaemonBinary), StartTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	systemctl := func(args ...string) string {
		o, _ := exec.Command("systemctl", append([]string{"--user"}, args...)...).Output()
		return strings.TrimSpace(string(o))
	}
	unit := ServiceName + ".service"
	dump := func() {
		t.Logf("install output:\n%s", out.String())
		j, _ := exec.Command("journalctl", "--user", "-u", ServiceName, "-n", "30", "--no-pager").CombinedOutput()
		t.Logf("journal:\n%s\nsystemctl status:\n%s\nsystemd --user:\n%s", j, systemctl("status", unit, "--no-pager"), mgrLog.String())
	}

	if err := in.Install(ctx, Options{}); err != nil {
		dump()
		t.Fatalf("install: %v", err)
	}
	if st := systemctl("is-active", unit); st != "active" {
		dump()
		t.Fatalf("is-active = %q", st)
	}
	if st := systemctl("is-enabled", unit); st != "enabled" {
		t.Errorf("is-enabled = %q", st)
	}
	unitBefore, _ := os.ReadFile(in.UnitPath())

	// Restart=always brings a killed daemon back.
	pid := systemctl("show", "-p", "MainPID", "--value", unit)
	if pid == "" || pid == "0" {
		dump()
		t.Fatal("no MainPID")
	}
	exec.Command("kill", "-9", pid).Run()
	waitFor(t, 15*time.Second, "the daemon to be restarted", func() bool {
		p := systemctl("show", "-p", "MainPID", "--value", unit)
		return p != pid && p != "0" && p != "" && in.s.Prober.Probe(ctx) == nil
	})

	if err := in.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if st := systemctl("is-active", unit); st != "inactive" {
		t.Errorf("after stop: %q", st)
	}
	if err := in.Start(ctx); err != nil {
		dump()
		t.Fatalf("start: %v", err)
	}
	if err := in.Restart(ctx); err != nil {
		dump()
		t.Fatalf("restart: %v", err)
	}

	// Idempotent: the second install changes no file and the daemon answers.
	if err := in.Install(ctx, Options{}); err != nil {
		dump()
		t.Fatalf("second install: %v", err)
	}
	if after, _ := os.ReadFile(in.UnitPath()); !bytes.Equal(after, unitBefore) {
		t.Error("unit changed on the second install")
	}
	if r := in.Doctor(ctx); r.Failed() {
		var b bytes.Buffer
		r.WriteTo(&b)
		t.Logf("doctor (the endpoint is the local file sink here):\n%s", b.String())
		for _, c := range r.Checks {
			if c.Level == Fail {
				t.Errorf("doctor FAIL: %s", c.What)
			}
		}
	}

	if err := in.Uninstall(ctx, true); err != nil {
		t.Fatalf("uninstall: %v", err)
	}
	if fileExists(in.UnitPath()) {
		t.Error("unit left")
	}
	if st := systemctl("is-active", unit); st == "active" {
		t.Errorf("still active after uninstall")
	}
	if lst := systemctl("list-unit-files", unit); strings.Contains(lst, "enabled") {
		t.Errorf("still listed: %s", lst)
	}
	t.Logf("install output:\n%s", out.String())
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
