package daemon

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/config"
)

// lockedBuffer is a log sink safe for the daemon's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// An inbox journal that is not a regular file of ours (a folder, a FIFO, a
// symbolic link) cannot be drained, and the hooks cannot journal into it:
// before, the daemon said nothing in status and logged the same warning at
// every drain tick, forever. Status names it (and exits 1); the log says it
// once; once the path is fixed, status clears.
func TestUndrainableInboxShowsInStatusAndLogsOnce(t *testing.T) {
	home := t.TempDir()
	inbox := filepath.Join(home, "inbox.jsonl")
	if err := os.Mkdir(inbox, 0o700); err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	td := startTestDaemon(t, home, config.Target{}, func(s *Settings) {
		s.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		s.InboxInterval = 10 * time.Millisecond
	})
	st, err := td.Status()
	if err != nil {
		t.Fatal(err)
	}
	if st.InboxError == nil || !strings.Contains(st.InboxError.Message, inbox) {
		t.Fatalf("status inbox_error = %+v, want the inbox named", st.InboxError)
	}
	// Many drain ticks later (every 10 ms), one warning from the periodic drain at most.
	time.Sleep(300 * time.Millisecond)
	if n := strings.Count(logs.String(), "msg=\"inbox drain failed\""); n > 1 {
		t.Errorf("the same drain failure was logged %d times", n)
	}
	deadline := time.Now().Add(30 * time.Second)
	if err := os.Remove(inbox); err != nil {
		t.Fatal(err)
	}
	for {
		if st, _ := td.Status(); st.InboxError == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("status still shows the inbox error after the folder was removed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// With the daemon down and a folder where the inbox journal goes, the real
// hook used to drop the event (it never disturbs the agent, so it had no one
// to tell): it now journals beside it, and the daemon, once started, drains
// that, traces the session, and still reports the folder in status.
func TestHookEventSurvivesAFolderAtTheInbox(t *testing.T) {
	srv := newFakeOTLP(t)
	home := t.TempDir()
	inbox := filepath.Join(home, "inbox.jsonl")
	if err := os.Mkdir(inbox, 0o700); err != nil {
		t.Fatal(err)
	}
	tr := filepath.Join(home, "s.jsonl")
	writeTranscript(t, tr, "a")
	hook(t, home, event("s", "SessionStart", tr)) // no daemon yet
	td := startTestDaemon(t, home, config.Target{URL: srv.URL}, nil)
	// The flush exports what it can, and says the inbox is not right.
	if res := td.flush(t, 10*time.Second); res.Done || !strings.Contains(res.Message, inbox) {
		t.Fatalf("flush: %+v, want the folder at the inbox named", res)
	}
	if got := srv.accepted(); got["a"] != 1 {
		t.Fatalf("exported %v: the hook's event was lost", got)
	}
	if st, err := td.Status(); err != nil || st.InboxError == nil || !strings.Contains(st.InboxError.Message, inbox) {
		t.Fatalf("status = %+v, %v: want the folder at the inbox named", st, err)
	}
}
