package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/e2e/internal/agentd"
)

// A transcript that grows without pause (a line every ~100ms, as a busy
// session writes) and fires no hook is still discovered promptly: the
// discovery debounce (200ms) must not be re-armed by every write forever,
// leaving only the 30s periodic rescan.
func TestDiscoveryIsNotStarvedByAGrowingTranscript(t *testing.T) {
	t.Parallel()
	h := agentd.NewHome(t)
	h.StartDaemon()
	s := relScenarios(t, "bash")[0]
	path := filepath.Join(h.HOME, ".claude", "projects", "-growing", s.ID+".jsonl")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	start := time.Now()
	for i := 0; time.Since(start) < 5*time.Second; i++ {
		if _, err := f.Write(append(s.Lines[i%len(s.Lines)].Data, '\n')); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		if strings.Contains(h.CLI("status", "--json").Stdout, path) {
			t.Logf("discovered after %s of continuous writes", time.Since(start).Round(time.Millisecond))
			return
		}
	}
	t.Errorf("a transcript written every ~100ms for 5s was not discovered (status watched_files lacks %s): "+
		"each write re-arms the 200ms debounce in discovery.run, so only the 30s rescan finds it", path)
}
