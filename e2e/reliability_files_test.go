package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/e2e/internal/agentd"
	"github.com/weave-agentd/weave-agentd/e2e/internal/receiver"
)

// relReadBytes is what the process has read so far (/proc/PID/io rchar).
func relReadBytes(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/io")
	if err != nil {
		t.Skipf("cannot read /proc/%d/io: %v", pid, err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "rchar: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	t.Skip("no rchar in /proc/PID/io")
	return 0
}

// Hooks from the real hook binary name transcripts that are /dev/zero,
// /dev/urandom, a FIFO nobody writes, a folder: the real daemon reads
// nothing from them (its read count stays flat over several flushes where
// /dev/zero alone was read at disk speed), keeps answering, counts each
// once, names them in status, and stops at once on SIGTERM (a reader
// blocked in the FIFO kept it from stopping).
func TestTranscriptPathsThatAreNotFilesAreSkipped(t *testing.T) {
	rcv := receiver.Start(t)
	h := agentd.NewHome(t)
	h.WriteConfig("endpoint = \"" + rcv.URL() + "\"\n")
	d := h.StartDaemon()
	pid := d.Pid()

	fifo := filepath.Join(h.HOME, "fifo.jsonl")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	folder := filepath.Join(h.HOME, "folder.jsonl")
	os.Mkdir(folder, 0o700)
	bad := []string{"/dev/zero", "/dev/urandom", fifo, folder}
	for i, p := range bad {
		payload, _ := json.Marshal(map[string]string{"session_id": "bad-" + strconv.Itoa(i),
			"hook_event_name": "SessionStart", "transcript_path": p, "cwd": h.HOME})
		if r := h.Hook(payload, "claude"); r.Code != 0 || r.Stdout != "" {
			t.Fatalf("hook: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
		}
	}
	relFlush(t, h)
	before := relReadBytes(t, pid)
	for range 3 {
		relFlush(t, h)
		time.Sleep(1100 * time.Millisecond) // a session tick (1s) in between: each would read again
	}
	read := relReadBytes(t, pid) - before
	st := relGetStatus(t, h)
	var full struct {
		SkippedFiles []struct {
			Path   string `json:"path"`
			Reason string `json:"reason"`
		} `json:"skipped_files"`
	}
	if err := json.Unmarshal([]byte(st.Raw), &full); err != nil {
		t.Fatal(err)
	}
	t.Logf("read %d bytes over 3 flushes; skipped_files counter %d; status: %+v", read, st.Counters["skipped_files"], full.SkippedFiles)
	if read > 16<<20 {
		t.Errorf("the daemon read %d MiB over 3 flushes with nothing to read: it reads a device", read>>20)
	}
	if n := st.Counters["skipped_files"]; n != int64(len(bad)) {
		t.Errorf("skipped_files = %d, want %d (each path once, not once per tick)", n, len(bad))
	}
	named := map[string]string{}
	for _, f := range full.SkippedFiles {
		named[f.Path] = f.Reason
	}
	for _, p := range bad {
		if named[p] == "" {
			t.Errorf("status does not name %s", p)
		}
	}
	if r := h.CLI("status"); !strings.Contains(r.Stdout, "skipped:    "+fifo) {
		t.Errorf("status text does not name the FIFO:\n%s", r.Stdout)
	}

	// SIGTERM stops it: wait for the process to be gone, bounded only
	// so that a hang fails instead of blocking the suite.
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("the daemon did not stop on SIGTERM (a reader blocked in the FIFO?)\n%s", d.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if strings.Count(d.Log(), "transcript path skipped") != len(bad) {
		t.Errorf("want one warning per skipped path:\n%s", d.Log())
	}
}
