package e2e

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/e2e/internal/agentd"
	"github.com/weave-agentd/weave-agentd/e2e/internal/receiver"
	"github.com/weave-agentd/weave-agentd/hooks"
)

// relBadInboxLines are journal lines that are not good events: each one is
// counted as a bad event (empty lines are not counted). The last one has no
// newline (a hook killed mid-write).
func relBadInboxLines(t *testing.T) (data []byte, bad int64) {
	t.Helper()
	ev := func(e hooks.Event) string {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	garbage := make([]byte, 512)
	for i := range garbage {
		garbage[i] = byte(i*13 + 5)
		if garbage[i] == '\n' {
			garbage[i] = 0xff
		}
	}
	lines := []string{
		"not JSON at all",
		ev(hooks.Event{ID: hooks.NewEventID(), Agent: hooks.AgentClaude, Name: "Stop", Payload: json.RawMessage(`{"hook_event_name":"Stop"}`)}), // no session id
		"",
		`{"id":"truncated","agent":"claude","payload":{"session_id":"x`,
		strings.Repeat("y", 2<<20), // huge, not JSON
		string(garbage),
		ev(hooks.Event{ID: hooks.NewEventID(), Agent: "vim", Session: "x", Payload: json.RawMessage(`{"session_id":"x"}`)}), // unknown agent
		ev(hooks.Event{ID: hooks.NewEventID(), Agent: hooks.AgentClaude, Invalid: "<html>"}),                                // payload not JSON
		`{"id":"partial","payload":{"session_id":"x"`,                                                                       // last, no newline
	}
	return []byte(strings.Join(lines, "\n")), 8
}

func relAppend(t *testing.T, path string, data []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
}

// A malformed inbox used to wedge the daemon for good (a bbolt write
// transaction nested in the drain's): socket bound but never served,
// SIGTERM ignored, the same file re-drained at every restart. Here the
// real hooks journal a real session while the daemon is down, next to
// every kind of bad line and the journal copy of an event the daemon had
// already stored (a hook whose ack came late). The daemon must start,
// answer status, count the bad lines, remove the inbox, deliver the
// session's spans, stop promptly on SIGTERM, and do the same with bad
// frames and bad lines arriving while it runs.
func TestMalformedInboxDoesNotWedgeTheDaemon(t *testing.T) {
	t.Parallel()
	rcv := receiver.Start(t)
	h := agentd.NewHome(t)
	h.WriteConfig("endpoint = \"" + rcv.URL() + "\"\n")
	paths := relHookPaths(t, h)

	late := &hooks.Event{ID: hooks.NewEventID(), Agent: hooks.AgentClaude, Name: "Notification", Session: "late-ack",
		RecvNS: time.Now().UnixNano(), Payload: json.RawMessage(`{"session_id":"late-ack","hook_event_name":"Notification"}`)}
	d := h.StartDaemon()
	if _, err := hooks.Call(paths.Socket, 5*time.Second, &hooks.Request{Op: hooks.OpEvent, Event: late}); err != nil {
		t.Fatal(err)
	}
	d.Stop()

	// The daemon is down: the real hooks journal the session.
	relFeed(t, h, relScenarios(t, "plain"))
	if _, err := os.Stat(paths.Inbox); err != nil {
		t.Fatalf("the hooks did not journal while the daemon was down: %v", err)
	}
	if err := hooks.AppendInbox(paths.Inbox, late); err != nil {
		t.Fatal(err)
	}
	// Payloads the real hook journals as they come: not JSON, no session.
	for _, p := range []string{"definitely not json", `{"hook_event_name":"Stop"}`} {
		if r := h.Hook([]byte(p), "claude"); r.Code != 0 || r.Stdout != "" {
			t.Fatalf("hook: %+v", r)
		}
	}
	data, bad := relBadInboxLines(t)
	relAppend(t, paths.Inbox, data)
	bad += 2

	d = h.StartDaemon() // fails unless status answers
	st := relGetStatus(t, h)
	if !st.Running || st.Counters["bad_events"] != bad || st.Counters["dup_events"] != 1 {
		t.Errorf("after the drain: running %v, bad_events %d (want %d), dup_events %d (want 1)\n%s",
			st.Running, st.Counters["bad_events"], bad, st.Counters["dup_events"], st.Raw)
	}
	for _, p := range []string{paths.Inbox, paths.Inbox + ".draining"} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s still there after the drain (%v): every restart would read it again", p, err)
		}
	}
	relSettle(t, h, rcv)
	if n := len(receiver.ByName(rcv.UniqueSpans(), "invoke_agent claude-code")); n != 1 {
		t.Errorf("%d turn span(s) of the journaled session arrived, want 1:\n%s", n, d.Log())
	}

	// While running: garbage frames, bad events over the socket, bad lines
	// in the inbox, then a good session.
	for _, frame := range [][]byte{[]byte("\x00\x01garbage"), []byte(`{"v":1,"op":"event","event":{"id":"x","agent":"claude"}}`)} {
		c, err := net.Dial("unix", paths.Socket)
		if err != nil {
			t.Fatal(err)
		}
		var hdr [4]byte
		binary.BigEndian.PutUint32(hdr[:], uint32(len(frame)))
		_, _ = c.Write(append(hdr[:], frame...))
		var resp hooks.Response
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		if err := hooks.ReadFrame(c, hooks.MaxFrame, &resp); err != nil {
			t.Errorf("no answer to a malformed frame: %v", err)
		}
		c.Close()
	}
	relAppend(t, paths.Inbox, append(data, '\n'))
	relFeed(t, h, relScenarios(t, "bash"))
	relSettle(t, h, rcv)
	st = relGetStatus(t, h)
	if want := bad + 1 + (bad - 2); st.Counters["bad_events"] != want || st.Counters["bad_frames"] != 1 {
		t.Errorf("while running: bad_events %d (want %d), bad_frames %d (want 1)\n%s", st.Counters["bad_events"], want, st.Counters["bad_frames"], st.Raw)
	}
	if n := len(receiver.ByName(rcv.UniqueSpans(), "invoke_agent claude-code")); n != 2 {
		t.Errorf("%d turn span(s) arrived, want 2 (one per session):\n%s", n, d.Log())
	}

	// SIGTERM stops it (Stop would SIGKILL after 10s; the log says whether
	// it stopped by itself).
	if err := syscall.Kill(d.Pid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	d.Stop()
	if !strings.Contains(d.Log(), "weave-agentd stopped") {
		t.Errorf("the daemon did not stop on SIGTERM:\n%s", d.Log())
	}
	if bytes.Contains([]byte(d.Log()), []byte("not JSON at all")) {
		t.Error("the daemon logged the text of a malformed line (it may hold a secret)")
	}
	relCheckLogs(t, []string{d.Log()})
}

// A folder where the inbox journal goes, while the daemon is down: the real
// hooks used to drop every event (the journal is never written through
// anything but a regular file of ours). They now journal beside it; the
// daemon drains that on start, stores every event, delivers the session,
// and status and flush name the folder until it is removed.
func TestFolderAtTheInboxKeepsTheHooksEvents(t *testing.T) {
	t.Parallel()
	rcv := receiver.Start(t)
	h := agentd.NewHome(t)
	h.WriteConfig("endpoint = \"" + rcv.URL() + "\"\n")
	paths := relHookPaths(t, h)
	if err := os.MkdirAll(paths.Inbox, 0o700); err != nil {
		t.Fatal(err)
	}
	fed := relFeed(t, h, relScenarios(t, "plain")) // no daemon
	relCheckHooks(t, fed)
	d := h.StartDaemon()
	// Every hook event reached the daemon (the transcript alone, which
	// discovery finds on disk, would give the spans without them).
	if st := relGetStatus(t, h); st.Counters["events"] != int64(len(fed)) {
		t.Errorf("the daemon stored %d hook event(s), want the %d the hooks journaled", st.Counters["events"], len(fed))
	}
	if r := h.CLI("flush", "--timeout", "60s"); r.Code == 0 || !strings.Contains(r.Stdout+r.Stderr, paths.Inbox) {
		t.Errorf("flush with a folder at the inbox: exit %d, want 1 naming it:\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	if r := h.CLI("status"); r.Code == 0 || !strings.Contains(r.Stdout, paths.Inbox) {
		t.Errorf("status with a folder at the inbox: exit %d, want 1 naming it:\n%s", r.Code, r.Stdout)
	}
	if err := os.Remove(paths.Inbox); err != nil {
		t.Fatal(err)
	}
	relSettle(t, h, rcv)
	if n := len(receiver.ByName(rcv.UniqueSpans(), "invoke_agent claude-code")); n != 1 {
		t.Errorf("%d turn span(s) of the session the hooks journaled beside the folder arrived, want 1:\n%s", n, d.Log())
	}
}
