package regular

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// A file a span builder reads beside a transcript must be a regular file
// and the user's own: another user's file (chowned here, which needs root)
// is refused, as the daemon refuses transcripts of other users.
func TestOpenOwn(t *testing.T) {
	dir := t.TempDir()
	mine := filepath.Join(dir, "mine.jsonl")
	if err := os.WriteFile(mine, []byte("{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, _, err := OpenOwn(mine)
	if err != nil {
		t.Fatalf("own file: %v", err)
	}
	f.Close()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	var nr *NotRegularError
	if _, _, err := OpenOwn(fifo); !errors.As(err, &nr) {
		t.Errorf("FIFO: %v, want NotRegularError", err)
	}
	if os.Getuid() != 0 {
		t.Skip("chown to another uid needs root")
	}
	theirs := filepath.Join(dir, "theirs.jsonl")
	if err := os.WriteFile(theirs, []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(theirs, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	var no *NotOwnError
	if _, _, err := OpenOwn(theirs); !errors.As(err, &no) || no.UID != 65534 {
		t.Errorf("another user's file: %v, want NotOwnError", err)
	}
}
