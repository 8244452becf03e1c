package codex

import (
	"path/filepath"
	"testing"

	"github.com/weave-agentd/weave-agentd/internal/testkit"
)

// TestGolden: the span tree of each real capture, from its rollout alone
// (a backfill) — and the same spans when it is replayed live with its
// hooks, without any timeout firing.
func TestGolden(t *testing.T) {
	for _, name := range fixtureNames {
		t.Run(name, func(t *testing.T) {
			fx := loadFixture(t, name)
			spans := runLines(fx.session, Options{TranscriptPath: fx.path}, fx.path, fx.lines)
			testkit.CheckNoDuplicates(t, spans)
			testkit.Golden(t, filepath.Join("testdata", name+".golden"), renderTree("codex-0.171.0/"+name, spans))
			if live := runLive(fx, Options{TranscriptPath: fx.path}); canonical(live) != canonical(spans) {
				t.Errorf("live replay with hooks differs from the backfill:\n%s", testkit.LineDiff(canonical(spans), canonical(live)))
			}
		})
	}
}
