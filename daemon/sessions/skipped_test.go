package sessions

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Only an open error that a change at the path cures makes a skip: running
// out of descriptors must not leave a live transcript unread for good.
func TestPassingOpenErrorsDoNotSkipTheFile(t *testing.T) {
	for errno, lasting := range map[syscall.Errno]bool{
		syscall.EACCES: true, syscall.ELOOP: true, syscall.ENOTDIR: true,
		syscall.EMFILE: false, syscall.ENFILE: false, syscall.ENOMEM: false, syscall.EINTR: false,
	} {
		if got := lastingOpenError(&os.PathError{Op: "open", Path: "x", Err: errno}); got != lasting {
			t.Errorf("%v: lasting = %v, want %v", errno, got, lasting)
		}
	}
}

// A payload naming the daemon's own log (/proc/self/fd/1, or the file
// `weave-agentd run > log` writes) is skipped: each skipped line would be
// logged into the file it reads, forever.
func TestTranscriptThatIsTheDaemonsOwnLogIsSkipped(t *testing.T) {
	logFile := filepath.Join(t.TempDir(), "daemon.log")
	f, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	saved := os.Stderr
	os.Stderr = f
	defer func() { os.Stderr = saved }()
	for _, path := range []string{logFile, fmt.Sprintf("/proc/self/fd/%d", f.Fd())} {
		g, _, err := openTranscript(path)
		var se *skipError
		if !errors.As(err, &se) || !strings.Contains(se.reason, "own log") {
			if g != nil {
				g.Close()
			}
			t.Errorf("openTranscript(%s) = %v, want it skipped as the daemon's own log", path, err)
		}
	}
}
