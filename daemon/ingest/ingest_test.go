package ingest

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/weave-agentd/weave-agentd/config"
	"github.com/weave-agentd/weave-agentd/daemon/status"
	"github.com/weave-agentd/weave-agentd/hooks"
	"github.com/weave-agentd/weave-agentd/redact"
	"github.com/weave-agentd/weave-agentd/spool"
)

// A stored event reaches its session with what the daemon reads of its
// payload, decoded once on the way: the session and event name (the hook
// named none here), and the transcript path. The spool keeps the payload's
// bytes.
func TestStoredEventIsDeliveredWithItsPayloadDecoded(t *testing.T) {
	dir := t.TempDir()
	store, err := spool.Open(filepath.Join(dir, "spool.db"), spool.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cfg, _ := config.Load(filepath.Join(dir, "none.toml"))
	red, err := redact.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	type delivered struct {
		ev   *hooks.Event
		hook *hooks.Common
	}
	var got []delivered
	in := New(Settings{HookAgents: map[string]string{hooks.AgentClaude: "claude-code"},
		Deliver: func(_ uint64, ev *hooks.Event, hook *hooks.Common) { got = append(got, delivered{ev, hook}) }},
		store, red, NewExclusions(nil), &status.Health{})
	payload := `{"session_id":"s1","hook_event_name":"Stop","transcript_path":"/t/s1.jsonl","cwd":"/p"}`
	if err := in.Accept(&hooks.Event{ID: "e1", RecvNS: 1, Payload: json.RawMessage(payload)}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("%d events delivered, want 1", len(got))
	}
	ev, hook := got[0].ev, got[0].hook
	if ev.Agent != hooks.AgentClaude || ev.Session != "s1" || ev.Name != "Stop" || hook.TranscriptPath != "/t/s1.jsonl" || hook.Cwd != "/p" {
		t.Errorf("delivered %+v with %+v", ev, hook)
	}
	var pend [][]byte
	err = store.View(func(t *spool.Tx) error {
		t.Events(func(_ uint64, rec []byte) { pend = append(pend, bytes.Clone(rec)) })
		return nil
	})
	if err != nil || len(pend) != 1 {
		t.Fatalf("pending events %q, %v", pend, err)
	}
	var stored hooks.Event
	if err := json.Unmarshal(pend[0], &stored); err != nil || string(stored.Payload) != payload {
		t.Errorf("stored payload %s (%v), want the bytes received", stored.Payload, err)
	}
}

// Encoding an event's record copies its payload once, into the record,
// and leaves the event without it (the session's actor reads it back from
// the spool). Before, json.Marshal grew a buffer to the payload's size by
// doubling and copied it out: for an 8 MiB payload, some 40 MiB alive at
// once, which is where the daemon's live heap peaked in
// TestManyLargeFramesAtOnceKeepTheHeapBounded under load.
func TestRecordEncodingCopiesThePayloadOnce(t *testing.T) {
	const size = 4 << 20
	payload := []byte(`{"session_id":"s1","hook_event_name":"Notification","message":"` + strings.Repeat("x", size) + `"}`)
	ev := &hooks.Event{ID: "e1", Agent: hooks.AgentClaude, Name: "Notification", Session: "s1", RecvNS: 1, Payload: payload}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	allocated := ms.TotalAlloc
	rec, err := encodeRecord(ev, payload)
	runtime.ReadMemStats(&ms)
	if err != nil {
		t.Fatal(err)
	}
	if n := ms.TotalAlloc - allocated; n > 3*size/2 {
		t.Errorf("encoding the record of a %d KiB payload allocated %d KiB: want one copy", size>>10, n>>10)
	}
	if ev.Payload != nil {
		t.Error("the event still holds its payload")
	}
	var stored hooks.Event
	if err := json.Unmarshal(rec, &stored); err != nil || stored.ID != "e1" || stored.Session != "s1" || stored.RecvNS != 1 || string(stored.Payload) != string(payload) {
		t.Errorf("record decodes to %s/%s/%d with a payload of %d bytes (%v)", stored.ID, stored.Session, stored.RecvNS, len(stored.Payload), err)
	}
	if _, err := encodeRecord(ev, []byte(`{"cut":`)); err == nil {
		t.Error("a payload that is not JSON was encoded")
	}
}
