package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/e2e/internal/agentd"
	"github.com/weave-agentd/weave-agentd/e2e/internal/genaischema"
	"github.com/weave-agentd/weave-agentd/e2e/internal/receiver"
)

// What Langfuse and Phoenix receive: the real daemon backfills every real
// Claude Code transcript (each fixture version and the 2.1.328 runs) to the
// Collector's receiver, with max_attribute_bytes at 4096 and at the default;
// every GenAI JSON attribute that arrives parses, matches the official
// schema and fits the cap.
func TestGenAIJSONAttributesMatchTheSchemas(t *testing.T) {
	v := genaischema.Load(t)
	fx := agentd.Fixtures()
	if fx == "" {
		t.Skip("../shared/fixtures is absent")
	}
	for _, limit := range []int{4096, 0} {
		name := fmt.Sprintf("max_attribute_bytes=%d", limit)
		if limit == 0 {
			name = "default cap"
		}
		t.Run(name, func(t *testing.T) {
			rcv := receiver.Start(t)
			h := agentd.NewHome(t)
			cfg := "endpoint = \"" + rcv.URL() + "\"\n"
			if limit > 0 {
				cfg += fmt.Sprintf("max_attribute_bytes = %d\n", limit)
			} else {
				limit = 64 << 10 // config.DefaultMaxAttributeBytes
			}
			h.WriteConfig(cfg)
			n := copyTranscripts(t, filepath.Join(fx, "claude-code"), filepath.Join(h.HOME, ".claude", "projects"), "-fixtures-")
			captures, _ := filepath.Glob(filepath.Join(agentd.RepoRoot(), "e2e", "testdata", "claude-2.1.328", "*", "projects"))
			for _, c := range captures {
				n += copyTranscripts(t, c, filepath.Join(h.HOME, ".claude", "projects"), "-capture-"+filepath.Base(filepath.Dir(c)))
			}
			if n < 10 {
				t.Fatalf("copied only %d transcripts", n)
			}
			d := h.StartDaemon()
			if r := h.CLI("backfill"); r.Code != 0 {
				t.Fatalf("backfill: %d\n%s%s\n%s", r.Code, r.Stdout, r.Stderr, d.Log())
			}
			if r := h.CLI("flush", "--timeout", "60s"); r.Code != 0 {
				t.Fatalf("flush: %s%s", r.Stdout, r.Stderr)
			}
			spans := rcv.UniqueSpans()
			rep := v.Spans(t, spans, limit)
			t.Logf("%d spans; attributes checked %v; largest %v", len(spans), rep.Checked, rep.Largest)
			for key := range genaischema.Files {
				if rep.Checked[key] == 0 {
					t.Errorf("no span carried %s: the check proves nothing for it", key)
				}
			}
			if limit == 4096 && rep.Largest["gen_ai.tool.definitions"] < 2048 {
				t.Errorf("tool definitions at most %d bytes: the cap was never exercised", rep.Largest["gen_ai.tool.definitions"])
			}
		})
	}
}

// copyTranscripts copies every .jsonl under src into projects, each first
// folder under src becoming a project folder named prefix+folder, and dates
// the copies back so that live discovery leaves them to backfill.
func copyTranscripts(t *testing.T, src, projects, prefix string) int {
	t.Helper()
	old := time.Now().Add(-72 * time.Hour)
	n := 0
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() || !strings.HasSuffix(p, ".jsonl") {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		parts := strings.SplitN(rel, string(filepath.Separator), 2)
		if len(parts) < 2 {
			return nil
		}
		dst := filepath.Join(projects, prefix+parts[0], parts[1])
		agentd.CopyFile(t, p, dst)
		os.Chtimes(dst, old, old)
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
