package daemon

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/config"
	"github.com/weave-agentd/weave-agentd/control"
	"github.com/weave-agentd/weave-agentd/hooks"
	"github.com/weave-agentd/weave-agentd/spool"
)

// deadlockGuard is how long a step may take before the test calls it a
// hang. It only detects a deadlock; no test passes or fails on speed.
const deadlockGuard = 30 * time.Second

// relMalformedInbox is every kind of inbox line that is not a good event,
// with how many of them are counted as bad events. The journal ends with a
// partial line (a hook killed mid-write).
func relMalformedInbox(t *testing.T) (lines [][]byte, bad int64) {
	t.Helper()
	ev := func(e hooks.Event) []byte {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	binaryGarbage := make([]byte, 300)
	for i := range binaryGarbage {
		binaryGarbage[i] = byte(i*7 + 1)
		if binaryGarbage[i] == '\n' {
			binaryGarbage[i] = 0
		}
	}
	lines = [][]byte{
		[]byte("this is not JSON"),
		ev(hooks.Event{ID: "no-session", Agent: hooks.AgentClaude, Name: "Stop", Payload: json.RawMessage(`{"hook_event_name":"Stop"}`)}),
		[]byte(""),
		[]byte("   "),
		[]byte(`{"id":"truncated","agent":"claude","payload":{"session_id":"s`),
		bytes.Repeat([]byte("x"), 1<<20), // huge, and not JSON
		binaryGarbage,
		ev(hooks.Event{ID: "unknown-agent", Agent: "vim", Name: "Stop", Session: "good",
			Payload: json.RawMessage(`{"session_id":"good","hook_event_name":"Stop"}`)}),
		// A payload that was not JSON, as the hook journals it.
		ev(hooks.Event{ID: "invalid-payload", Agent: hooks.AgentClaude, Invalid: "{not json"}),
		ev(hooks.Event{ID: "no-payload", Agent: hooks.AgentClaude, Session: "good"}),
		[]byte(`{"agent":"claude","session":"good","payload":{"session_id":"good"}}`), // no id
		[]byte(`[1,2,3]`),
		[]byte(`{"id":"partial-at-the-end","payload":{"session_id":"good","hook`), // no newline after it
	}
	return lines, 11
}

func relWriteInbox(t *testing.T, path string, lines [][]byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i, l := range lines {
		if _, err := f.Write(l); err != nil {
			t.Fatal(err)
		}
		if i < len(lines)-1 {
			if _, err := f.Write([]byte("\n")); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// relStartWithin starts a daemon, failing (not hanging) if Start does not
// return: a drain that deadlocks never returns.
func relStartWithin(t *testing.T, home string, target config.Target) *testDaemon {
	t.Helper()
	started := make(chan *testDaemon, 1)
	go func() { started <- startTestDaemon(t, home, target, nil) }()
	select {
	case td := <-started:
		return td
	case <-time.After(deadlockGuard):
		t.Fatal("the daemon did not finish starting: draining the inbox hung (a write transaction nested in another?)")
		return nil
	}
}

// relStopWithin stops the daemon as SIGTERM does, failing if it hangs.
func relStopWithin(t *testing.T, td *testDaemon) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), deadlockGuard)
		defer cancel()
		done <- td.Shutdown(ctx)
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("shutdown: %v", err)
		}
		td.Daemon = nil
	case <-time.After(deadlockGuard + 5*time.Second):
		t.Fatal("the daemon did not stop")
	}
}

func relStatus(t *testing.T, home string) control.Status {
	t.Helper()
	paths, _ := hooks.ResolvePaths(func(k string) string { return map[string]string{"WEAVE_AGENTD_HOME": home}[k] })
	resp, err := hooks.Call(paths.Socket, deadlockGuard, &hooks.Request{Op: hooks.OpStatus})
	if err != nil {
		t.Fatalf("status over the socket: %v", err)
	}
	var st control.Status
	if err := json.Unmarshal(resp.Body, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// Malformed lines in the inbox journal, found when the daemon starts: they
// used to deadlock it (a counter written in a second write transaction
// inside the drain's), leaving the socket bound but unserved, SIGTERM
// ignored and the same file re-drained on every restart. The daemon must
// start, serve, count the bad lines, keep the good events (and drop the
// duplicate a late-acked hook journaled), remove the inbox and stop.
func TestMalformedInboxLinesAtStartAreCountedNotFatal(t *testing.T) {
	srv := newFakeOTLP(t)
	home := t.TempDir()
	tr := filepath.Join(home, "good.jsonl")
	writeTranscript(t, tr, "good-line")

	// A hook whose ack came too late: the daemon stored its event and the
	// hook journaled it as well.
	late := &hooks.Event{ID: "acked-late", Agent: hooks.AgentClaude, Name: "Notification", Session: "good",
		Payload: json.RawMessage(`{"session_id":"good","hook_event_name":"Notification"}`)}
	journaled := *late // Accept consumes its event (the payload moves into the record)
	td := relStartWithin(t, home, config.Target{URL: srv.URL})
	if err := td.ingest.Accept(late); err != nil {
		t.Fatal(err)
	}
	relStopWithin(t, td)

	inbox := filepath.Join(home, "inbox.jsonl")
	lines, bad := relMalformedInbox(t)
	good := []*hooks.Event{
		{ID: "good-1", Agent: hooks.AgentClaude, Name: "SessionStart", Session: "good", Payload: json.RawMessage(`{"session_id":"good","hook_event_name":"SessionStart","transcript_path":` + jsonString(tr) + `}`)},
		&journaled,
		{ID: "good-2", Name: "Stop", Payload: json.RawMessage(`{"session_id":"good","hook_event_name":"Stop"}`)}, // agent and session from the payload
	}
	var all [][]byte
	for i, l := range lines {
		if i < len(good) {
			b, _ := json.Marshal(good[i])
			all = append(all, b)
		}
		all = append(all, l)
	}
	relWriteInbox(t, inbox, all)

	td = relStartWithin(t, home, config.Target{URL: srv.URL})
	st := relStatus(t, home)
	if got := st.Counters[spool.CounterBadEvents]; got != bad {
		t.Errorf("bad_events = %d, want %d (one per malformed line or event)", got, bad)
	}
	if got := st.Counters[spool.CounterDupEvents]; got != 1 {
		t.Errorf("dup_events = %d, want 1 (the late-acked hook's journal copy)", got)
	}
	for _, p := range []string{inbox, inbox + ".draining"} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s still there after the drain (err %v): every restart would read it again", filepath.Base(p), err)
		}
	}
	if res := td.flush(t, deadlockGuard); !res.Done {
		t.Fatalf("flush: %+v", res)
	}
	got := srv.accepted()
	for _, n := range []string{"good-line", "hook SessionStart", "hook Notification", "hook Stop"} {
		if got[n] != 1 {
			t.Errorf("span %q received %d times, want 1 (all: %v)", n, got[n], got)
		}
	}
	relStopWithin(t, td)
}

// The same while running: malformed frames on the socket and malformed
// lines in an inbox written meanwhile (a hook that timed out under load)
// are counted, and the daemon keeps serving.
func TestMalformedInputWhileRunningIsCountedNotFatal(t *testing.T) {
	srv := newFakeOTLP(t)
	home := t.TempDir()
	td := relStartWithin(t, home, config.Target{URL: srv.URL})
	paths, _ := hooks.ResolvePaths(func(k string) string { return map[string]string{"WEAVE_AGENTD_HOME": home}[k] })

	// Frames: not JSON, an event without an id, without a session, from
	// an unknown agent, with a payload that was not JSON.
	raw := func(b []byte) {
		t.Helper()
		c, err := net.Dial("unix", paths.Socket)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var hdr [4]byte
		binary.BigEndian.PutUint32(hdr[:], uint32(len(b)))
		if _, err := c.Write(append(hdr[:], b...)); err != nil {
			t.Fatal(err)
		}
		var resp hooks.Response
		_ = c.SetReadDeadline(time.Now().Add(deadlockGuard))
		if err := hooks.ReadFrame(c, hooks.MaxFrame, &resp); err != nil {
			t.Fatalf("no answer to a malformed frame: %v", err)
		}
	}
	raw([]byte("\x00\xffnot json at all"))
	raw([]byte(`{"v":1,"op":"event"}`)) // an event request without the event
	badEvents := []*hooks.Event{
		{ID: "", Agent: hooks.AgentClaude, Session: "s", Payload: json.RawMessage(`{"session_id":"s"}`)},
		{ID: "frame-no-session", Agent: hooks.AgentClaude, Payload: json.RawMessage(`{"hook_event_name":"Stop"}`)},
		{ID: "frame-unknown-agent", Agent: "emacs", Session: "s", Payload: json.RawMessage(`{"session_id":"s"}`)},
		{ID: "frame-invalid", Agent: hooks.AgentClaude, Invalid: "<html>"},
	}
	for _, ev := range badEvents {
		if _, err := hooks.Call(paths.Socket, deadlockGuard, &hooks.Request{Op: hooks.OpEvent, Event: ev}); err != nil {
			t.Errorf("event %q: %v", ev.ID, err)
		}
	}

	lines, bad := relMalformedInbox(t)
	relWriteInbox(t, paths.Inbox, lines)
	// The periodic drain picks it up; flush drains it too.
	if res := td.flush(t, deadlockGuard); !res.Done {
		t.Fatalf("flush: %+v", res)
	}
	hook(t, home, event("alive", "Stop", ""))
	st := relStatus(t, home)
	if got, want := st.Counters[spool.CounterBadEvents], bad+int64(len(badEvents))+1; got != want {
		t.Errorf("bad_events = %d, want %d", got, want)
	}
	if got := st.Counters[spool.CounterBadFrames]; got != 1 {
		t.Errorf("bad_frames = %d, want 1", got)
	}
	if res := td.flush(t, deadlockGuard); !res.Done || srv.accepted()["hook Stop"] != 1 {
		t.Fatalf("a good event after the bad ones was not traced: flush %+v, received %v", res, srv.accepted())
	}
	if _, err := os.Stat(paths.Inbox); !os.IsNotExist(err) {
		t.Errorf("inbox still there after the drain: %v", err)
	}
	relStopWithin(t, td)
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return strings.TrimSpace(string(b))
}
