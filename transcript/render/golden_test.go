package render_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/transcript/catalog"
	"github.com/weave-agentd/weave-agentd/transcript/render"

	"github.com/weave-agentd/weave-agentd/internal/testkit"
)

// goldenCase is one conversation rendered with some options.
type goldenCase struct {
	name  string // golden file stem
	path  string // main transcript
	title string // shown as the source (machine-independent)
	opts  render.Options
}

// fixtureCases: the real transcripts in ../shared/fixtures (skipped when
// absent), one of them also with colour and unfolded.
func fixtureCases(t *testing.T) []goldenCase {
	fx := filepath.Join(testkit.ModuleRoot(t), "..", "shared", "fixtures")
	if _, err := os.Stat(fx); err != nil {
		t.Skipf("fixtures absent (%s)", fx)
	}
	var cases []goldenCase
	for _, c := range []struct{ name, rel string }{
		{"v1.0.98-inline-sidechains", "claude-code/claude-code-viewer-v1.0.98/fe5e1c67-53e7-4862-81ae-d0e013e3270b.jsonl"},
		{"v2.1.29-image", "claude-code/entire-checkpoints-v2.1.29-32/26-dcd5518fea-0-full.jsonl"},
		{"v2.1.32-mcp", "claude-code/entire-checkpoints-v2.1.29-32/ad-a8171575ce-0-full.jsonl"},
		{"v2.1.38-short", "claude-code/spotter-v2.1.38-39/short.jsonl"},
		{"v2.1.38-tool-heavy", "claude-code/spotter-v2.1.38-39/tool_heavy.jsonl"},
		{"v2.1.38-subagent-progress-only", "claude-code/spotter-v2.1.38-39/subagent.jsonl"},
		{"v2.1.39-subagent-compaction", "claude-code/spotter-v2.1.38-39/4d5611e5-241a-462a-8d15-5122611a9569.jsonl"},
		{"v2.1.291-hooks", "claude-code/forgelore-hooks-v2.1.289-291/2.1.291/transcript.jsonl"},
		{"synthetic-rewind-compact", "synthetic/claude-code-log_dag_compact_after_rewind.jsonl"},
	} {
		cases = append(cases, goldenCase{name: c.name, path: filepath.Join(fx, c.rel), title: c.rel})
	}
	short := cases[3]
	cases = append(cases,
		goldenCase{name: "v2.1.38-short.color", path: short.path, title: short.title, opts: render.Options{Color: true}},
		goldenCase{name: "v2.1.38-tool-heavy.full", path: cases[4].path, title: cases[4].title, opts: render.Options{Full: true}})
	return cases
}

// captureCases: the real Claude Code 2.1.328 runs captured by the e2e
// harness (e2e/testdata/claude-2.1.328/<scenario>/projects/…).
func captureCases(t *testing.T) []goldenCase {
	root := testkit.ModuleRoot(t)
	mains, _ := filepath.Glob(filepath.Join(root, "e2e", "testdata", "claude-2.1.328", "*", "projects", "*", "*.jsonl"))
	if len(mains) == 0 {
		t.Skip("no e2e captures under e2e/testdata/claude-2.1.328")
	}
	var cases []goldenCase
	for _, m := range mains {
		rel, _ := filepath.Rel(filepath.Join(root, "e2e", "testdata"), m)
		scenario := strings.Split(filepath.ToSlash(rel), "/")[1]
		cases = append(cases, goldenCase{name: "claude-2.1.328-" + scenario, path: m, title: filepath.ToSlash(rel)})
		if scenario == "subagent" {
			cases = append(cases, goldenCase{name: "claude-2.1.328-subagent.color", path: m, title: filepath.ToSlash(rel), opts: render.Options{Color: true}})
		}
	}
	return cases
}

func renderCase(t *testing.T, c goldenCase) string {
	t.Helper()
	f, err := catalog.Resolve(catalog.Options{}, c.path)
	if err != nil {
		t.Fatal(err)
	}
	spans, _, err := catalog.Load(context.Background(), catalog.Options{}, f)
	if err != nil {
		t.Fatal(err)
	}
	o := c.opts
	o.Location = time.UTC
	o.Source = c.title
	var buf bytes.Buffer
	if err := render.Conversation(&buf, spans, o); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestGoldenFixtures(t *testing.T) {
	for _, c := range fixtureCases(t) {
		t.Run(c.name, func(t *testing.T) {
			got := renderCase(t, c)
			testkit.Golden(t, filepath.Join("testdata", c.name+".golden"), got)
			checkInvariants(t, c, got)
		})
	}
}

func TestGoldenCaptures(t *testing.T) {
	for _, c := range captureCases(t) {
		t.Run(c.name, func(t *testing.T) {
			got := renderCase(t, c)
			testkit.Golden(t, filepath.Join("testdata", c.name+".golden"), got)
			checkInvariants(t, c, got)
		})
	}
}

// checkInvariants: plain output has no escape sequences at all (a
// transcript must not drive the terminal), coloured output only SGR ones;
// a folded rendering has no line longer than the cap.
func checkInvariants(t *testing.T, c goldenCase, got string) {
	t.Helper()
	if !c.opts.Color && strings.ContainsRune(got, 0x1b) {
		t.Errorf("plain output contains an escape character")
	}
	for i, l := range strings.Split(got, "\n") {
		for _, r := range l {
			if r < 0x20 && r != '\t' && r != 0x1b {
				t.Errorf("line %d: control character %#x", i+1, r)
			}
		}
		if !c.opts.Color && !c.opts.Full && len([]rune(l)) > 400 {
			t.Errorf("line %d is %d characters long when folding", i+1, len([]rune(l)))
		}
	}
}
