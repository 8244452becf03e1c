package gemini

import (
	"path/filepath"
	"testing"

	"github.com/weave-agentd/weave-agentd/internal/testkit"
)

// TestGolden: the span tree of each capture, from its chat file alone (as
// discovery and backfill read it).
func TestGolden(t *testing.T) {
	for _, c := range fixtureCases {
		t.Run(c.name, func(t *testing.T) {
			fc := loadFixture(t, c.name)
			spans := backfill(fc, Options{})
			checkSpans(t, fc.session, spans)
			testkit.Golden(t, filepath.Join("testdata", c.name+".golden"), renderTree(fixtureDir+"/"+c.name, spans))
		})
	}
}
