package sessions

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// opens watches the opens of path (inotify IN_OPEN); each call of count
// returns how many happened since the previous one (called between opens,
// since inotify merges identical events left unread).
func opens(t *testing.T, path string) (count func() int) {
	t.Helper()
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	if err != nil {
		t.Skipf("inotify: %v", err)
	}
	if _, err := syscall.InotifyAddWatch(fd, path, syscall.IN_OPEN); err != nil {
		syscall.Close(fd)
		t.Skipf("inotify watch: %v", err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	return func() int {
		n := 0
		buf := make([]byte, 64<<10)
		for {
			k, err := syscall.Read(fd, buf)
			if err != nil || k <= 0 {
				return n
			}
			for off := 0; off+syscall.SizeofInotifyEvent <= k; {
				ev := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[off]))
				n++
				off += syscall.SizeofInotifyEvent + int(ev.Len)
			}
		}
	}
}

// A path skipped for a reason that an open would only repeat (a file that
// cannot be read, or another user's) is not opened again on every read,
// only once what is at the path changes.
func TestSkippedTranscriptIsNotOpenedAgainUntilItChanges(t *testing.T) {
	p := filepath.Join(t.TempDir(), "t.jsonl")
	if err := os.WriteFile(p, []byte("line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	switch os.Getuid() {
	case 0: // root reads any file; give it away instead
		if err := os.Chown(p, 54321, 54321); err != nil {
			t.Fatal(err)
		}
	default:
		if err := os.Chmod(p, 0); err != nil {
			t.Fatal(err)
		}
	}
	tl := &tailer{path: p}
	count := opens(t, p)
	n := 0
	for range 5 {
		read, _, err := tl.read(1<<20, func([]byte, int64) { t.Error("a line was read") })
		if read != 0 || err == nil {
			t.Fatalf("read %d bytes, err %v: want the path skipped", read, err)
		}
		n += count()
	}
	if n > 1 {
		t.Errorf("the skipped file was opened %d times over 5 reads, want at most once", n)
	}
	// Changed (given back, readable): read.
	os.Chown(p, os.Getuid(), os.Getgid())
	os.Chmod(p, 0o600)
	var got []string
	if _, _, err := tl.read(1<<20, func(l []byte, _ int64) { got = append(got, string(l)) }); err != nil || len(got) != 1 {
		t.Fatalf("after the change: lines %q, err %v", got, err)
	}
}

// A pseudo-file that stats as a regular file of ours can block a read
// forever: /proc/kmsg for a daemon run as root (as in CI). Its actor then
// never finished a step, so flush hung and SIGTERM never stopped the daemon
// (shutdown waits for the actors). Such files are pollable: the read is
// bounded and the path skipped like a FIFO.
func TestTranscriptWhoseReadBlocksIsSkipped(t *testing.T) {
	const p = "/proc/kmsg"
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Skipf("%s cannot be opened here (%v): the test needs root", p, err)
	}
	fi, err := f.Stat()
	pollable := f.SetReadDeadline(time.Now().Add(100*time.Millisecond)) == nil
	var rerr error
	if pollable {
		var b [1]byte
		_, rerr = f.Read(b[:])
	}
	if err != nil || !fi.Mode().IsRegular() || !errors.Is(rerr, os.ErrDeadlineExceeded) {
		f.Close()
		t.Skipf("reading %s does not block here (stat %v, pollable %v, read %v)", p, err, pollable, rerr)
	}
	f.Close()
	tl := &tailer{path: p}
	done := make(chan error, 1)
	go func() {
		_, _, err := tl.read(1<<20, func([]byte, int64) {})
		done <- err
	}()
	select {
	case err := <-done:
		var se *skipError
		if !errors.As(err, &se) {
			t.Fatalf("read = %v, want the path skipped", err)
		}
	case <-time.After(time.Minute):
		t.Fatalf("reading %s blocked", p)
	}
}
