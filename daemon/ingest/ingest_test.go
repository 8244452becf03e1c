package ingest

import (
	"encoding/json"
	"path/filepath"
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
	pend, err := store.PendingEvents(10)
	if err != nil || len(pend) != 1 {
		t.Fatalf("pending events %v, %v", pend, err)
	}
	var stored hooks.Event
	if err := json.Unmarshal(pend[0].Data, &stored); err != nil || string(stored.Payload) != payload {
		t.Errorf("stored payload %s (%v), want the bytes received", stored.Payload, err)
	}
}
