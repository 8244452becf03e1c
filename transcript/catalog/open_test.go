package catalog

import (
	"context"
	"errors"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/weave-agentd/weave-agentd/internal/regular"
)

// `show` and `sessions` read only regular files: /dev/zero would be read
// forever and a FIFO without a writer would hang the command.
func TestReadingATranscriptThatIsNotARegularFileFails(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "s.jsonl")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/dev/zero", fifo, t.TempDir()} {
		_, err := eachLine(context.Background(), p, func([]byte) bool { return true })
		var nr *regular.NotRegularError
		if !errors.As(err, &nr) {
			t.Errorf("%s: err = %v, want a NotRegularError", p, err)
		}
	}
}
