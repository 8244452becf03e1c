package claude

import (
	"testing"

	"github.com/weave-agentd/weave-agentd/internal/testkit"
)

// TestStateSize keeps the persisted state small: it is written with every
// commit.
func TestStateSize(t *testing.T) {
	fx := testkit.Fixtures(t)
	for _, gc := range goldenCases {
		session, opts, feed := loadCase(t, fx, gc)
		b := New(session, opts)
		peak := 0
		for i, f := range feed {
			b.Line(f.path, f.line)
			b.Take()
			if i%25 == 0 {
				st, _ := b.MarshalState()
				peak = max(peak, len(st))
			}
		}
		settle(b)
		st, _ := b.MarshalState()
		t.Logf("%-32s peak %7d bytes, final %7d bytes", gc.name, peak, len(st))
		if peak > 1<<20 {
			t.Errorf("%s: state peaked at %d bytes", gc.name, peak)
		}
	}
}
