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

// Backfill of a captured background-subagent session: the subagent's own
// model and tool calls must be kept although its file is read after the main
// transcript has long moved on (lines are fed in the order they were written).
func TestBackfillBackgroundSubagentKeepsItsChildren(t *testing.T) {
	src := filepath.Join(agentd.RepoRoot(), "e2e", "testdata", "claude-2.1.328", "subagent", "projects")
	if _, err := os.Stat(src); err != nil {
		t.Skip("capture absent")
	}
	rcv := receiver.Start(t)
	h := agentd.NewHome(t)
	h.WriteConfig("endpoint = \"" + rcv.URL() + "\"\n")
	old := time.Now().Add(-72 * time.Hour)
	filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			rel, _ := filepath.Rel(src, p)
			dst := filepath.Join(h.HOME, ".claude", "projects", rel)
			agentd.CopyFile(t, p, dst)
			os.Chtimes(dst, old, old)
		}
		return err
	})
	h.StartDaemon()
	if r := h.CLI("backfill"); r.Code != 0 {
		t.Fatalf("backfill: %s%s", r.Stdout, r.Stderr)
	}
	waitSpans(t, rcv, func(s []receiver.Span) bool { return len(receiver.ByName(s, "invoke_agent general-purpose")) > 0 })
	if r := h.CLI("flush", "--timeout", "30s"); r.Code != 0 {
		t.Fatalf("flush: %s%s", r.Stdout, r.Stderr)
	}
	spans := rcv.UniqueSpans()
	sub := receiver.ByName(spans, "invoke_agent general-purpose")[0]
	inside := receiver.Children(spans, sub)
	if len(receiver.ByName(inside, "execute_tool Bash")) != 1 || len(inside) < 3 {
		t.Fatalf("subagent children after backfill: %v (all: %v)", names(inside), names(spans))
	}
}
