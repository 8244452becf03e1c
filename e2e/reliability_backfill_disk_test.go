package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/e2e/internal/agentd"
	"github.com/weave-agentd/weave-agentd/e2e/internal/receiver"
)

// relCopyFixtures copies the real Claude Code fixture transcripts into dir,
// left alone for days (so backfill settles them), or skips.
func relCopyFixtures(t *testing.T, dir string) {
	t.Helper()
	fx := agentd.Fixtures()
	if fx == "" {
		t.Skip("../shared/fixtures is absent")
	}
	old := time.Now().Add(-72 * time.Hour)
	n := 0
	err := filepath.Walk(filepath.Join(fx, "claude-code"), func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() || !strings.HasSuffix(p, ".jsonl") {
			return err
		}
		rel, _ := filepath.Rel(filepath.Join(fx, "claude-code"), p)
		parts := strings.SplitN(rel, string(filepath.Separator), 2)
		dst := filepath.Join(dir, "-fixtures-"+parts[0], parts[1])
		agentd.CopyFile(t, p, dst)
		os.Chtimes(dst, old, old)
		n++
		return nil
	})
	if err != nil || n < 5 {
		t.Fatalf("copied %d fixture transcripts: %v", n, err)
	}
}

func relSpanIDs(rcv *receiver.Receiver) []string {
	var ids []string
	for _, s := range rcv.UniqueSpans() {
		ids = append(ids, s.TraceID+"/"+s.SpanID)
	}
	slices.Sort(ids)
	return ids
}

// Backfill on a full disk used to exit 0 with "0 span(s) queued" (the
// actors' failed commits were logged and the files counted as done), flush
// then said everything was accepted, and once space came back only live
// sessions returned: the history was lost. Now the backfill fails (exit 1,
// the storage error, no success summary), and re-running it after space
// frees delivers exactly the spans of a backfill on a healthy disk.
func TestBackfillOnAFullDiskFailsAndResumes(t *testing.T) {
	t.Parallel()
	archive := filepath.Join(t.TempDir(), "archive")
	relCopyFixtures(t, archive)

	// The reference: the same backfill on a healthy disk.
	rcvRef := receiver.Start(t)
	ref := agentd.NewHome(t)
	ref.WriteConfig("endpoint = \"" + rcvRef.URL() + "\"\n")
	ref.StartDaemon()
	if r := ref.CLI("backfill", archive); r.Code != 0 {
		t.Fatalf("reference backfill: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	relFlush(t, ref)
	want := relSpanIDs(rcvRef)
	if len(want) < 50 {
		t.Fatalf("the reference backfill delivered only %d spans", len(want))
	}

	mnt := relTmpfs(t, "16m")
	rcv := receiver.Start(t)
	h := agentd.NewHome(t)
	h.Dir = filepath.Join(mnt, "h")
	h.WriteConfig("endpoint = \"" + rcv.URL() + "\"\n")
	d := h.StartDaemon()
	filled := relFill(t, filepath.Join(mnt, "filler"))
	t.Logf("filled the state folder's file system with %d KiB", filled>>10)

	r := h.CLI("backfill", archive)
	t.Logf("backfill on the full disk: exit %d\nstdout: %sstderr: %s", r.Code, r.Stdout, r.Stderr)
	if r.Code != 1 || !strings.Contains(r.Stderr, "no space left") || strings.Contains(r.Stdout, "queued for export") {
		t.Errorf("backfill on a full disk must fail with the storage error (exit 1, no success summary); got exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}

	if r := h.CLI("flush", "--timeout", "10s"); r.Code == 0 {
		t.Errorf("flush said everything was exported while the backfill could not be stored:\n%s%s", r.Stdout, r.Stderr)
	} else {
		t.Logf("flush on the full disk: exit %d %s%s", r.Code, r.Stdout, r.Stderr)
	}

	if err := os.Remove(filepath.Join(mnt, "filler")); err != nil {
		t.Fatal(err)
	}
	if r := h.CLI("backfill", archive); r.Code != 0 {
		t.Fatalf("backfill after space came back: exit %d\n%s%s\n%s", r.Code, r.Stdout, r.Stderr, d.Log())
	}
	relFlush(t, h)
	got := relSpanIDs(rcv)
	if !slices.Equal(got, want) {
		missing, extra := 0, 0
		for _, id := range want {
			if _, ok := slices.BinarySearch(got, id); !ok {
				missing++
			}
		}
		for _, id := range got {
			if _, ok := slices.BinarySearch(want, id); !ok {
				extra++
			}
		}
		t.Errorf("after the disk freed up and backfill ran again: %d span(s), want %d (%d missing, %d unexpected)", len(got), len(want), missing, extra)
	}
	relCheckLogs(t, []string{d.Log()})
}
