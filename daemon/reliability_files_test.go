package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/config"
	"github.com/weave-agentd/weave-agentd/genai"
)

// badTranscriptPaths makes one path of every kind a transcript_path must
// not be read from, keyed by path, with a word its skip reason must hold.
func badTranscriptPaths(t *testing.T, dir string) map[string]string {
	t.Helper()
	bad := map[string]string{"/dev/zero": "character device", "/dev/urandom": "character device"}
	fifo := filepath.Join(dir, "fifo.jsonl")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	bad[fifo] = "FIFO"
	link := filepath.Join(dir, "link-to-fifo.jsonl")
	if err := os.Symlink(fifo, link); err != nil {
		t.Fatal(err)
	}
	bad[link] = "FIFO"
	folder := filepath.Join(dir, "folder.jsonl")
	if err := os.Mkdir(folder, 0o700); err != nil {
		t.Fatal(err)
	}
	bad[folder] = "folder"
	loop := filepath.Join(dir, "loop.jsonl")
	if err := os.Symlink(loop, loop); err != nil {
		t.Fatal(err)
	}
	bad[loop] = "cannot be opened" // unreadable, even for root
	// A NUL in a payload's path made every step log a warning, forever.
	bad[filepath.Join(dir, "nul\x00.jsonl")] = "invalid argument"
	// Relative to what? Not to the daemon's working folder.
	bad[filepath.Join("relative", "t.jsonl")] = "not an absolute path"
	if os.Getuid() != 0 {
		locked := filepath.Join(dir, "locked.jsonl")
		if err := os.WriteFile(locked, []byte("{}\n"), 0o000); err != nil {
			t.Fatal(err)
		}
		bad[locked] = "permission denied"
	} else {
		// Root reads a chmod 000 file; it can give a file away instead.
		theirs := filepath.Join(dir, "theirs.jsonl")
		if err := os.WriteFile(theirs, []byte("line-of-someone-else\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(theirs, 54321, 54321); err != nil {
			t.Fatal(err)
		}
		bad[theirs] = "uid 54321"
	}
	return bad
}

// stopWithin shuts the daemon down, failing (instead of hanging) when a
// reader blocked in a FIFO keeps it from stopping.
func stopWithin(t *testing.T, td *testDaemon, d time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() { td.stop(t); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("shutdown did not finish within %s: a transcript reader is blocked", d)
	}
}

// A transcript_path (from a hook payload, or a .jsonl found by discovery)
// that is a device, a FIFO without a writer, a folder, an unreadable path
// or someone else's file is skipped once: nothing is read from it, the
// daemon keeps answering and stops at once, it is counted once however
// often the session is stepped and the folder rescanned, and status names
// it with the reason.
func TestTranscriptPathsThatAreNotRegularFilesAreSkippedOnce(t *testing.T) {
	srv := newFakeOTLP(t)
	home := t.TempDir()
	root := filepath.Join(home, "projects")
	bad := badTranscriptPaths(t, home)
	// A FIFO named like a transcript in a discovered project folder.
	discovered := filepath.Join(root, "proj", "3f1c0000-0000-4000-8000-000000000001.jsonl")
	os.MkdirAll(filepath.Dir(discovered), 0o700)
	if err := syscall.Mkfifo(discovered, 0o600); err != nil {
		t.Fatal(err)
	}
	bad[discovered] = "FIFO"
	td := startTestDaemon(t, home, config.Target{URL: srv.URL}, func(s *Settings) {
		s.Discover = []DiscoverRoot{{Agent: genai.AgentClaudeCode, Dir: root}}
	})
	good := filepath.Join(home, "good.jsonl")
	writeTranscript(t, good, "good-line")
	hook(t, home, event("good", "SessionStart", good))
	i := 0
	for p := range bad {
		if p == discovered {
			continue
		}
		i++
		hook(t, home, event("bad-"+string(rune('a'+i)), "SessionStart", p))
	}
	for range 4 { // each flush steps every session and rescans the roots
		if res := td.flush(t, 10*time.Second); !res.Done {
			t.Fatalf("flush: %+v (a reader is stuck in a FIFO or a device)", res)
		}
	}
	if got := srv.accepted(); got["good-line"] != 1 || got["line-of-someone-else"] != 0 {
		t.Errorf("spans: %v", got)
	}
	st, err := td.Status()
	if err != nil {
		t.Fatal(err)
	}
	if n := st.Counters["skipped_files"]; n != int64(len(bad)) {
		t.Errorf("skipped_files = %d after 4 rescans, want %d (each path once); status: %+v", n, len(bad), st.SkippedFiles)
	}
	named := map[string]string{}
	for _, f := range st.SkippedFiles {
		named[f.Path] = f.Reason
	}
	for p, want := range bad {
		if r, ok := named[p]; !ok || !strings.Contains(r, want) {
			t.Errorf("status names %s with reason %q, want it with %q", p, r, want)
		}
	}
	if _, ok := named[good]; ok {
		t.Errorf("the good transcript is named as skipped")
	}
	stopWithin(t, td, 20*time.Second)
}

// A path skipped as a FIFO is read once a regular file replaces it, and
// leaves status.
func TestSkippedTranscriptIsReadWhenItBecomesARegularFile(t *testing.T) {
	srv := newFakeOTLP(t)
	home := t.TempDir()
	td := startTestDaemon(t, home, config.Target{URL: srv.URL}, nil)
	p := filepath.Join(home, "s.jsonl")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	hook(t, home, event("s", "SessionStart", p))
	td.flush(t, 10*time.Second)
	if st, _ := td.Status(); len(st.SkippedFiles) != 1 || st.Counters["skipped_files"] != 1 {
		t.Fatalf("FIFO not reported once: %+v %v", st.SkippedFiles, st.Counters)
	}
	os.Remove(p)
	writeTranscript(t, p, "now-a-file")
	if res := td.flush(t, 10*time.Second); !res.Done {
		t.Fatalf("flush: %+v", res)
	}
	if got := srv.accepted(); got["now-a-file"] != 1 {
		t.Errorf("the regular file that replaced the FIFO was not read: %v", got)
	}
	if st, _ := td.Status(); len(st.SkippedFiles) != 0 {
		t.Errorf("status still names %+v", st.SkippedFiles)
	}
	stopWithin(t, td, 20*time.Second)
}
