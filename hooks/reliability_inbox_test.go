package hooks

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A hook killed in the middle of its inbox append (or a short write on a
// full disk) leaves a partial line at the end of the journal. The next
// hook's complete, successful append must not be glued onto it and lost:
// AppendInbox returned nil, so the hook considered the event safe
// (DESIGN invariant 1: durable in bbolt "or the inbox").
func TestInboxAppendAfterAPartialLineKeepsTheEvent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inbox.jsonl")
	if err := AppendInbox(path, &Event{ID: "first", Payload: json.RawMessage(`{"n":1}`)}); err != nil {
		t.Fatal(err)
	}
	// What a killed or short write leaves behind: no trailing newline.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"id":"killed-mid-write","payload":{"n":`); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := AppendInbox(path, &Event{ID: "after", Payload: json.RawMessage(`{"n":3}`)}); err != nil {
		t.Fatal(err)
	}
	var got []string
	bad := 0
	if _, err := DrainInbox(path, func(evs []*Event) error {
		for _, ev := range evs {
			got = append(got, ev.ID)
		}
		return nil
	}, func([]byte, error) { bad++ }); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"first": true, "after": true}
	for _, id := range got {
		delete(want, id)
	}
	if len(want) > 0 {
		t.Fatalf("drained %v (and %d bad line(s)); lost %v: the append after a partial line was glued onto it", got, bad, want)
	}
}

// A journal line longer than the cap (garbage, or a file someone else wrote
// there) is skipped whole without being held in memory, and the lines around
// it are read normally.
func TestInboxLineOverTheCapIsSkippedWhole(t *testing.T) {
	r := bufio.NewReaderSize(strings.NewReader("short\n"+strings.Repeat("x", 200)+"\nafter\n"), 16)
	var got []string
	for {
		line, long, err := readLine(r, 64)
		switch {
		case long:
			got = append(got, "<long>")
		case len(line) > 0:
			got = append(got, string(line))
		}
		if err != nil {
			break
		}
	}
	if want := []string{"short\n", "<long>", "after\n"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("lines = %q, want %q", got, want)
	}
}

// A FIFO where the journal (or a journal left over from an interrupted
// drain) should be must be refused, not opened for reading: open(2) of a
// FIFO for reading blocks until a writer comes, which wedged the daemon's
// start (socket never served, SIGTERM ignored, since the drain runs before
// the daemon serves and shutdown waits for it).
func TestDrainInboxRefusesAFIFOWithoutBlocking(t *testing.T) {
	for _, name := range []string{"inbox.jsonl", "inbox.jsonl.draining"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "inbox.jsonl")
			if err := syscall.Mkfifo(filepath.Join(dir, name), 0o600); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
			done := make(chan error, 1)
			go func() {
				_, err := DrainInbox(path, func([]*Event) error { return nil }, func([]byte, error) {})
				done <- err
			}()
			select {
			case err := <-done:
				var u *UntrustedError
				if !errors.As(err, &u) {
					t.Fatalf("DrainInbox = %v, want an UntrustedError naming the FIFO", err)
				}
			case <-time.After(10 * time.Second):
				// Unblock the open so the goroutine ends, then fail.
				if w, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
					w.Close()
				}
				t.Fatal("DrainInbox blocked opening a FIFO")
			}
		})
	}
}

// With the daemon down, an inbox path the hook must not write (a folder, a
// FIFO, a symbolic link to another file, a file of another user) used to
// lose the event: AppendInbox failed and the hook, which must never disturb
// the agent, dropped it. The event now goes to the fallback journal beside
// it, which the daemon drains as well, and the drain still reports the
// unusable inbox (status says what to remove).
func TestInboxThatIsNotOursFallsBackBesideIt(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, path string)
	}{
		{"folder", func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}},
		{"FIFO", func(t *testing.T, path string) {
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
		}},
		{"symlink", func(t *testing.T, path string) {
			target := filepath.Join(t.TempDir(), "someone-elses")
			if err := os.WriteFile(target, []byte("theirs\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, path); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if b, _ := os.ReadFile(target); string(b) != "theirs\n" {
					t.Errorf("the link's target was written: %q", b)
				}
			})
		}},
		{"another user's file", func(t *testing.T, path string) {
			if os.Getuid() != 0 {
				t.Skip("needs root to give a file to another user")
			}
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(path, 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "inbox.jsonl")
			tc.setup(t, path)
			if err := AppendInbox(path, &Event{ID: "kept", Payload: json.RawMessage(`{"n":1}`)}); err != nil {
				t.Fatalf("AppendInbox = %v: the event is lost", err)
			}
			var got []string
			n, err := DrainInbox(path, func(evs []*Event) error {
				for _, ev := range evs {
					got = append(got, ev.ID)
				}
				return nil
			}, func([]byte, error) {})
			if n != 1 || len(got) != 1 || got[0] != "kept" {
				t.Fatalf("drained %d %v (%v), want the event", n, got, err)
			}
			if err == nil || !strings.Contains(err.Error(), path) {
				t.Errorf("DrainInbox = %v, want the unusable inbox reported", err)
			}
			if _, err := os.Stat(fallbackInbox(path)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the drained fallback journal is still there: %v", err)
			}
		})
	}
}
