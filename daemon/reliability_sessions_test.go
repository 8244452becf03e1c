package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/config"
)

// The sessions' retention and eviction times (daemon/sessions), which the
// clock is moved past.
const (
	sessionRetention = 30 * 24 * time.Hour
	goneRetention    = 24 * time.Hour
	idleEvict        = 10 * time.Minute
)

// fakeClock is a settable Settings.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// The sessions bucket held the state of every session ever seen: nothing
// deleted it. Sessions that no actor holds any more are forgotten once
// their last commit is older than the retention (a day when their
// transcript is gone), so over many finished sessions the bucket stays bounded by the
// recent ones.
func TestFinishedSessionsArePruned(t *testing.T) {
	srv := newFakeOTLP(t)
	home := t.TempDir()
	clock := &fakeClock{now: time.Now()}
	td := startTestDaemon(t, home, config.Target{URL: srv.URL}, func(s *Settings) { s.Now = clock.Now })
	const rounds, perRound = 4, 30
	kept := int64(0) // transcripts left on disk: their offsets stay
	for r := range rounds {
		var files []string
		for i := range perRound {
			tr := filepath.Join(home, fmt.Sprintf("r%d-s%d.jsonl", r, i))
			writeTranscript(t, tr, "line")
			files = append(files, tr)
			hook(t, home, event(fmt.Sprintf("r%d-s%d", r, i), "Stop", tr))
		}
		if res := td.flush(t, deadlockGuard); !res.Done {
			t.Fatalf("flush: %+v", res)
		}
		if st, _ := td.Status(); st.Spool.StoredSessions < perRound {
			t.Fatalf("round %d: %d stored sessions, want at least the %d just seen", r, st.Spool.StoredSessions, perRound)
		}
		// Finished: either Claude Code deleted the transcripts, or they
		// were left alone past the retention.
		if r%2 == 0 {
			for _, f := range files {
				os.Remove(f)
			}
			// Not at once: a transcript a hook named may appear later.
			relWaitNoActors(t, td, clock)
			if _, err := td.sess.Prune(clock.Now()); err != nil {
				t.Fatal(err)
			}
			if st, _ := td.Status(); st.Spool.StoredSessions < perRound {
				t.Fatalf("round %d: sessions idle for minutes were pruned (%d left)", r, st.Spool.StoredSessions)
			}
			clock.advance(goneRetention + time.Hour)
		} else {
			kept += perRound
			clock.advance(sessionRetention + time.Hour)
		}
		relWaitNoActors(t, td, clock)
		if _, err := td.sess.Prune(clock.Now()); err != nil {
			t.Fatal(err)
		}
		st, _ := td.Status()
		if st.Spool.StoredSessions != 0 {
			t.Fatalf("round %d: %d session(s) still stored after they finished, want 0", r, st.Spool.StoredSessions)
		}
		if st.Spool.TrackedFiles != kept {
			t.Fatalf("round %d: %d offset(s) stored, want %d (those of the transcripts still on disk)", r, st.Spool.TrackedFiles, kept)
		}
	}
}

// relWaitNoActors waits until every actor left memory, moving the clock on
// past idleEvict while it waits (an actor that saw its file vanish after the
// clock moved counts itself active then, and needs the clock to move again).
func relWaitNoActors(t *testing.T, td *testDaemon, clock *fakeClock) {
	t.Helper()
	deadline := time.Now().Add(deadlockGuard)
	moved := time.Duration(0)
	for {
		if n, _ := td.sess.Stats(); n == 0 {
			return
		}
		if time.Now().After(deadline) {
			n, _ := td.sess.Stats()
			t.Fatalf("%d actor(s) still in memory", n)
		}
		time.Sleep(2 * td.set.TickInterval)
		if moved < time.Hour {
			clock.advance(idleEvict + time.Minute)
			moved += idleEvict + time.Minute
		}
	}
}
