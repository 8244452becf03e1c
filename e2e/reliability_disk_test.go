package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/e2e/internal/agentd"
	"github.com/weave-agentd/weave-agentd/e2e/internal/crash"
	"github.com/weave-agentd/weave-agentd/e2e/internal/receiver"
	"github.com/weave-agentd/weave-agentd/hooks"
)

// relTmpfs mounts a tmpfs of size bytes on a new folder, or skips the test
// saying why (it needs root and mount).
func relTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("full-disk test: needs root to mount a small tmpfs (run as root, e.g. in the CI container)")
	}
	dir, err := os.MkdirTemp("", "wa-disk-")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		os.Remove(dir)
		t.Skipf("full-disk test: cannot mount a tmpfs here (%v: %s); skipped", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		_ = exec.Command("umount", "-l", dir).Run()
		os.RemoveAll(dir)
	})
	return dir
}

// relFill writes a filler file until the file system is full.
func relFill(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	var n int64
	for {
		k, err := f.Write(buf)
		n += int64(k)
		if err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling: %v", err)
			}
			return n
		}
	}
}

// A full disk under the spool (a 6 MiB tmpfs as the state folder, filled
// up): the daemon must not crash and must not lose an event it acknowledged;
// the hook still exits 0 silently (falling back to the inbox, which is on
// the same full disk here, so events nobody acknowledged may be lost — the
// one loss a full disk forces). When space returns, work resumes: the
// session's spans arrive, and after a SIGKILL and restart every
// acknowledged or journaled event id is known to the daemon.
func TestFullDiskSpool(t *testing.T) {
	t.Parallel()
	mnt := relTmpfs(t, "6m")
	rcv := receiver.Start(t)
	h := agentd.NewHome(t)
	h.Dir = filepath.Join(mnt, "h")
	h.WriteConfig("endpoint = \"" + rcv.URL() + "\"\n")
	d := h.StartDaemon()
	pid := relDaemonPID(t, h)
	paths := relHookPaths(t, h)
	relFeed(t, h, relScenarios(t, "plain"))
	relFlush(t, h)

	filled := relFill(t, filepath.Join(mnt, "filler"))
	t.Logf("filled the state folder's file system with %d KiB", filled>>10)

	// Hook events until the spool refuses at least 20 of them.
	var acked, journaled []*hooks.Event
	refused := 0
	payload := `{"session_id":"full-disk","hook_event_name":"Notification","message":"` + strings.Repeat("z", 4000) + `"}`
	for i := 0; i < 5000 && refused < 20; i++ {
		ev := &hooks.Event{ID: hooks.NewEventID(), Agent: hooks.AgentClaude, Name: "Notification", Session: "full-disk",
			RecvNS: time.Now().UnixNano(), Payload: []byte(payload)}
		if _, err := hooks.Call(paths.Socket, 2*time.Second, &hooks.Request{Op: hooks.OpEvent, Event: ev}); err == nil {
			acked = append(acked, ev)
			continue
		}
		refused++
		if err := hooks.AppendInbox(paths.Inbox, ev); err == nil {
			journaled = append(journaled, ev)
		}
	}
	if refused == 0 {
		t.Fatalf("the spool never refused an event on a full disk (%d acked)", len(acked))
	}
	// The real hook on the full disk, and a session written meanwhile.
	var real []crash.HookResult
	for i := 0; i < 5; i++ {
		real = append(real, crash.RunHook(filepath.Join(h.Bin, "weave-agentd-hook"), h.Environ(),
			[]byte(`{"session_id":"full-disk","hook_event_name":"Notification","message":"real"}`), "claude"))
	}
	relCheckHooks(t, real)
	p50, _, pmax := crash.Latency(real)
	sess := relScenarios(t, "bash")
	relFeed(t, h, sess)
	st := relGetStatus(t, h)
	if !st.Running || relDaemonPID(t, h) != pid {
		t.Fatalf("the daemon did not survive the full disk:\n%s", d.Log())
	}
	t.Logf("full disk: %d events acked, %d refused (%d of those journaled to the inbox); real hook p50 %s max %s; status exit %d",
		len(acked), refused, len(journaled), p50.Round(time.Microsecond), pmax.Round(time.Microsecond), st.Code)
	if st.StorageError == nil || st.Code != 1 {
		t.Errorf("while the spool cannot be written, status must say so and exit 1; got exit %d:\n%s", st.Code, st.Raw)
	} else {
		t.Logf("status: storage error %q", st.StorageError.Message)
	}

	// Space comes back.
	if err := os.Remove(filepath.Join(mnt, "filler")); err != nil {
		t.Fatal(err)
	}
	// An event journaled after the full disk must survive whatever a failed
	// append left in the journal.
	late := &hooks.Event{ID: hooks.NewEventID(), Agent: hooks.AgentClaude, Name: "Notification", Session: "full-disk",
		RecvNS: time.Now().UnixNano(), Payload: []byte(`{"session_id":"full-disk","hook_event_name":"Notification","message":"late"}`)}
	if err := hooks.AppendInbox(paths.Inbox, late); err != nil {
		t.Fatal(err)
	}
	journaled = append(journaled, late)
	relSettle(t, h, rcv)
	if n := len(receiver.ByName(rcv.UniqueSpans(), "invoke_agent claude-code")); n < 2 {
		t.Errorf("after the disk freed up, %d turn span(s) arrived, want the plain and the bash session's (2):\n%s", n, d.Log())
	}

	// Durable: SIGKILL, restart, then every acked or journaled id is a
	// duplicate for the daemon.
	d.Kill()
	h.StartDaemon()
	relFlush(t, h)
	before := relGetStatus(t, h)
	for _, ev := range append(append([]*hooks.Event(nil), acked...), journaled...) {
		if _, err := hooks.Call(paths.Socket, 5*time.Second, &hooks.Request{Op: hooks.OpEvent, Event: ev}); err != nil {
			t.Fatalf("re-sending %s: %v", ev.ID, err)
		}
	}
	after := relGetStatus(t, h)
	dups := after.Counters["dup_events"] - before.Counters["dup_events"]
	if fresh := after.Counters["events"] - before.Counters["events"]; fresh != 0 || dups != int64(len(acked)+len(journaled)) {
		t.Errorf("re-sent %d acked + %d journaled events: %d were new to the daemon (lost before), %d known", len(acked), len(journaled), fresh, dups)
	}
	relCheckLogs(t, []string{d.Log()})
	t.Logf("daemon log lines mentioning the full disk: %d", strings.Count(d.Log(), "no space left"))
}
