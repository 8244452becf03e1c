package ingest

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weave-agentd/weave-agentd/config"
	"github.com/weave-agentd/weave-agentd/daemon/status"
	"github.com/weave-agentd/weave-agentd/hooks"
	"github.com/weave-agentd/weave-agentd/redact"
	"github.com/weave-agentd/weave-agentd/spool"
)

// A Cursor payload's workspace_roots is a list of any length: 250,000
// roots in one 6 MB event had the daemon stat every folder above each
// (minutes of CPU per event, while the hooks timed out into the inbox and
// the drain did it all again) and remember each in the exclusions' cache
// for good (the RSS grew by ~80 MB per event). Such an event is malformed;
// the cache forgets past a bound.
func TestManyWorkspaceRootsAreBounded(t *testing.T) {
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
	ex := NewExclusions(nil)
	delivered := 0
	in := New(Settings{HookAgents: map[string]string{hooks.AgentCursor: "cursor"},
		Deliver: func(uint64, *hooks.Event, *hooks.Common) { delivered++ }},
		store, red, ex, &status.Health{})
	roots := make([]string, 100_000)
	for i := range roots {
		roots[i] = fmt.Sprintf("/home/u/p%d", i)
	}
	b, _ := json.Marshal(map[string]any{"conversation_id": "c1", "hook_event_name": "stop", "cursor_version": "1.7", "workspace_roots": roots})
	if err := in.Accept(&hooks.Event{ID: "many-roots", Agent: hooks.AgentCursor, Payload: b}); err != nil {
		t.Fatal(err)
	}
	st, err := store.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if delivered != 0 || st.Counters[spool.CounterBadEvents] != 1 {
		t.Errorf("an event with %d workspace roots: delivered %d, bad_events %d; want it counted as malformed", len(roots), delivered, st.Counters[spool.CounterBadEvents])
	}
	for i := range 3 * maxCachedDirs {
		ex.Ignored("/home/u/q" + strings.Repeat("x", i%7) + fmt.Sprint(i))
	}
	n := 0
	ex.cache.Range(func(any, any) bool { n++; return true })
	if n > maxCachedDirs {
		t.Errorf("the exclusions remember %d folders, want at most %d", n, maxCachedDirs)
	}
}
