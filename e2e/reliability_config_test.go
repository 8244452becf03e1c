package e2e

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/e2e/internal/agentd"
	"github.com/weave-agentd/weave-agentd/e2e/internal/crash"
	"github.com/weave-agentd/weave-agentd/e2e/internal/receiver"
)

// A typo in config.toml, then SIGHUP (what `systemctl --user reload` sends):
// the real daemon runs on with the config it had — same process, still
// exporting a session to the server — logs the error with the file, line
// and key, and status shows it and exits 1. Fixed and reloaded, the error
// is gone. Started on a broken file (no running config to keep), the daemon
// exits with EX_CONFIG (78), on which the systemd unit does not restart it.
func TestConfigTypoOnReloadKeepsTheRunningConfig(t *testing.T) {
	t.Parallel()
	rcv := receiver.Start(t)
	h := agentd.NewHome(t)
	good := "endpoint = \"" + rcv.URL() + "\"\n"
	typo := good + "log_levle = \"debug\"\n"
	h.WriteConfig(good)
	d := h.StartDaemon()

	h.WriteConfig(typo)
	cfgHup(t, d)
	m := cfgWaitStatus(t, h, func(m map[string]any) bool { return m["config_error"] != nil })
	if pid, _ := m["pid"].(float64); int(pid) != d.Pid() {
		t.Fatalf("status answers from pid %v, want the daemon %d", m["pid"], d.Pid())
	}
	r := h.CLI("status")
	if r.Code != 1 || !agentd.Contains(r.Stdout, "config:     ERROR since", "config.toml, line 2: unknown key(s) log_levle", "runs on with the config it had") {
		t.Fatalf("status: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	if !agentd.Contains(d.Log(), "config reload failed", "line 2: unknown key(s) log_levle") {
		t.Fatalf("the daemon's log does not say why:\n%s", d.Log())
	}
	relFeed(t, h, []*crash.Session{relScenarios(t, "bash")[0]})
	relSettle(t, h, rcv)
	if len(receiver.ByName(rcv.UniqueSpans(), "invoke_agent claude-code")) == 0 {
		t.Fatalf("no turn exported after the failed reload; got %d spans", len(rcv.Spans()))
	}

	h.WriteConfig(good)
	cfgHup(t, d)
	cfgWaitStatus(t, h, func(m map[string]any) bool { return m["config_error"] == nil })
	if r := h.CLI("status"); r.Code != 0 || strings.Contains(r.Stdout, "config:") {
		t.Fatalf("status after the fix: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}

	d.Stop()
	h.WriteConfig(typo)
	if r := h.CLI("run"); r.Code != 78 || !agentd.Contains(r.Stderr, "line 2: unknown key(s) log_levle", "hint: fix") {
		t.Fatalf("run on a broken config: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
}

func cfgHup(t *testing.T, d *agentd.Daemon) {
	t.Helper()
	if err := syscall.Kill(d.Pid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
}

// cfgWaitStatus polls `status --json` (up to 30s) until ok.
func cfgWaitStatus(t *testing.T, h *agentd.Home, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m, code := h.Status(); code != 3 && ok(m) {
			return m
		}
		if time.Now().After(deadline) {
			m, code := h.Status()
			t.Fatalf("status never reached the state wanted: exit %d %v", code, m)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
