package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/e2e/internal/agentd"
	"github.com/weave-agentd/weave-agentd/e2e/internal/receiver"
)

// Backfill over every real Claude Code fixture, twice: the second run (and a
// daemon restart in between) sends nothing.
func TestBackfillFixturesTwiceSendsNothingNew(t *testing.T) {
	fx := agentd.Fixtures()
	if fx == "" {
		t.Skip("../shared/fixtures is absent")
	}
	rcv := receiver.Start(t)
	h := agentd.NewHome(t)
	h.WriteConfig("endpoint = \"" + rcv.URL() + "\"\n")
	projects := filepath.Join(h.HOME, ".claude", "projects")
	old := time.Now().Add(-72 * time.Hour) // older than live discovery looks
	n := 0
	err := filepath.Walk(filepath.Join(fx, "claude-code"), func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() || !strings.HasSuffix(p, ".jsonl") {
			return err
		}
		rel, _ := filepath.Rel(filepath.Join(fx, "claude-code"), p)
		parts := strings.SplitN(rel, string(filepath.Separator), 2)
		dst := filepath.Join(projects, "-fixtures-"+parts[0], parts[1])
		agentd.CopyFile(t, p, dst)
		os.Chtimes(dst, old, old)
		n++
		return nil
	})
	if err != nil || n < 5 {
		t.Fatalf("copied %d fixture transcripts: %v", n, err)
	}
	d := h.StartDaemon()

	r := h.CLI("backfill")
	if r.Code != 0 || !agentd.Contains(r.Stdout, "backfill: ", "span(s) queued") {
		t.Fatalf("backfill: %d\n%s%s\n%s", r.Code, r.Stdout, r.Stderr, d.Log())
	}
	if r := h.CLI("flush", "--timeout", "60s"); r.Code != 0 {
		t.Fatalf("flush: %s%s", r.Stdout, r.Stderr)
	}
	first := len(rcv.Spans())
	if first < 50 {
		t.Fatalf("first backfill delivered only %d spans", first)
	}
	t.Logf("first backfill: %s", strings.TrimSpace(r.Stdout))

	r = h.CLI("backfill", "--json")
	if r.Code != 0 || !agentd.Contains(r.Stdout, `"spans": 0`) {
		t.Fatalf("second backfill: %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	d.Stop()
	h.StartDaemon()
	if r := h.CLI("backfill"); r.Code != 0 || !agentd.Contains(r.Stdout, " 0 span(s) queued") {
		t.Fatalf("backfill after restart: %s%s", r.Stdout, r.Stderr)
	}
	if r := h.CLI("flush", "--timeout", "60s"); r.Code != 0 {
		t.Fatalf("flush: %s%s", r.Stdout, r.Stderr)
	}
	if got := len(rcv.Spans()); got != first {
		t.Fatalf("re-running backfill sent %d more span(s)", got-first)
	}
	assertNoDuplicates(t, rcv)
}
