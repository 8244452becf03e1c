package daemon

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/config"
	"github.com/weave-agentd/weave-agentd/control"
	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/hooks"
	"github.com/weave-agentd/weave-agentd/spool"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// A session id over bbolt's key limit (32 KiB) made every commit of its
// session fail with "key too large": status said storage FAILING and
// flush never finished, for good, since the stored event was delivered
// again after every restart. An event id as long failed the transaction
// that stored it with the others of its batch: the inbox was never
// drained, events sent at the same time were lost to their journal. Such
// an event is malformed, from the inbox as from the socket: counted,
// never stored.
func TestOverlongIDsAreMalformedEvents(t *testing.T) {
	srv := newFakeOTLP(t)
	home := t.TempDir()
	paths, _ := hooks.ResolvePaths(func(k string) string { return map[string]string{"WEAVE_AGENTD_HOME": home}[k] })
	long := strings.Repeat("s", 40_000)
	journaled, err := json.Marshal(hooks.Event{ID: "long-inbox", Agent: hooks.AgentClaude, Name: "Stop", Session: long,
		Payload: json.RawMessage(event(long, "Stop", ""))})
	if err != nil {
		t.Fatal(err)
	}
	longID, err := json.Marshal(hooks.Event{ID: strings.Repeat("i", 40_000), Agent: hooks.AgentClaude, Name: "Stop", Session: "s",
		Payload: json.RawMessage(event("s", "Stop", ""))})
	if err != nil {
		t.Fatal(err)
	}
	good, err := json.Marshal(hooks.Event{ID: "good", Agent: hooks.AgentClaude, Name: "Notification", Session: "journaled",
		Payload: json.RawMessage(event("journaled", "Notification", ""))})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(paths.Inbox, bytes.Join([][]byte{journaled, longID, good, nil}, []byte("\n")), 0o600); err != nil {
		t.Fatal(err)
	}

	td := relStartWithin(t, home, config.Target{URL: srv.URL})
	hook(t, home, event(long+"-socket", "Stop", ""))
	if _, err := hooks.Call(paths.Socket, deadlockGuard, &hooks.Request{Op: hooks.OpEvent, Event: &hooks.Event{
		ID: strings.Repeat("j", 40_000), Agent: hooks.AgentClaude, Name: "Stop", Session: "s", Payload: json.RawMessage(event("s", "Stop", ""))}}); err != nil {
		t.Error(err)
	}
	hook(t, home, event("alive", "Stop", ""))
	res := td.flush(t, deadlockGuard)
	if got := srv.accepted(); !res.Done || got["hook Stop"] != 1 || got["hook Notification"] != 1 {
		t.Errorf("flush %+v, received %v: want done, the good events' spans once each", res, got)
	}
	if _, err := os.Stat(paths.Inbox); !os.IsNotExist(err) {
		t.Errorf("inbox still there: %v", err)
	}
	st := relStatus(t, home)
	if st.StorageError != nil {
		t.Errorf("storage error %q: a hook payload's session id broke every commit", st.StorageError.Message)
	}
	if got := st.Counters[spool.CounterBadEvents]; got != 4 {
		t.Errorf("bad_events = %d, want 4 (two journaled events and two sent)", got)
	}
	relStopWithin(t, td)
}

// An event stored with an overlong session id (by a daemon before the
// check) is dropped and counted at restore, not delivered again after
// every restart into commits that always fail.
func TestStoredEventWithAnOverlongSessionIsDroppedAtRestore(t *testing.T) {
	srv := newFakeOTLP(t)
	home := t.TempDir()
	paths, _ := hooks.ResolvePaths(func(k string) string { return map[string]string{"WEAVE_AGENTD_HOME": home}[k] })
	store, err := spool.Open(paths.Spool, spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("s", 40_000)
	rec, err := json.Marshal(hooks.Event{ID: "old", Agent: hooks.AgentClaude, Name: "Stop", Session: long, Payload: json.RawMessage(event(long, "Stop", ""))})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Update(func(tx *spool.Tx) error {
		_, _, err := tx.PutEvent("old", rec, time.Now())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	td := relStartWithin(t, home, config.Target{URL: srv.URL})
	hook(t, home, event("alive", "Stop", ""))
	if res := td.flush(t, deadlockGuard); !res.Done {
		t.Errorf("flush %+v: want done", res)
	}
	st := relStatus(t, home)
	if st.StorageError != nil {
		t.Errorf("storage error %q", st.StorageError.Message)
	}
	if got := st.Counters[spool.CounterBadEvents]; got != 1 || st.Spool.PendingEvents != 0 {
		t.Errorf("bad_events = %d, pending %d; want 1 and 0", got, st.Spool.PendingEvents)
	}
	relStopWithin(t, td)
}

// A session id read from a transcript (a Gemini CLI chat file's header, a
// Codex CLI rollout's session_meta) is as unbounded as a hook's: a
// discovered or backfilled file whose header held a 40 KB id failed every
// commit of its session. Such a file is left alone; the others are read.
func TestTranscriptWithAnOverlongSessionIDIsNotFollowed(t *testing.T) {
	srv := newFakeOTLP(t)
	home := t.TempDir()
	root := filepath.Join(home, ".gemini", "tmp")
	chats := filepath.Join(root, "work-p", "chats")
	if err := os.MkdirAll(chats, 0o700); err != nil {
		t.Fatal(err)
	}
	writeTranscript(t, filepath.Join(chats, "session-2026-12-05T14-02-sssssss.jsonl"),
		`{"sessionId":"`+strings.Repeat("s", 40_000)+`","kind":"main"}`, "long-line")
	writeTranscript(t, filepath.Join(chats, "session-2026-12-05T14-03-253ce1a9.jsonl"),
		`{"sessionId":"253ce1a9-8a9c-4cfe-8ebd-f86b09cf40bd","kind":"main"}`, "good-line")
	td := startTestDaemon(t, home, config.Target{URL: srv.URL}, func(s *Settings) {
		s.Builders[genai.AgentGeminiCLI] = func(_, s, p string) transcript.Builder { return &lineBuilder{session: s, path: p} }
		s.Discover = []DiscoverRoot{{Agent: genai.AgentGeminiCLI, Dir: root}}
	})
	if res := td.flush(t, deadlockGuard); !res.Done {
		t.Errorf("flush: %+v", res)
	}
	if _, err := td.sess.Backfill(control.BackfillArgs{}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(deadlockGuard); ; time.Sleep(10 * time.Millisecond) {
		job, _ := td.sess.BackfillProgress()
		if job.Done {
			if job.Error != "" || job.Files != 1 {
				t.Errorf("backfill: %+v, want the one file with a usable id", job)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("backfill hangs: %+v", job)
		}
	}
	if got := srv.accepted(); got["good-line"] != 1 || got["long-line"] != 0 {
		t.Errorf("received %v", got)
	}
	if st := relStatus(t, home); st.StorageError != nil {
		t.Errorf("storage error %q", st.StorageError.Message)
	}
	relStopWithin(t, td)
}
