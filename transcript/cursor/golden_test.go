package cursor

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

type goldenCase struct {
	name     string // testdata/<name>.script.jsonl → testdata/<name>.golden
	conv     string
	fixtures bool // needs ../shared/fixtures
}

var goldenCases = []goldenCase{
	{name: "ide-session", conv: "7b3e2a10-4c1d-4e8f-9a55-2f6d1c0e9b42"},
	{name: "headless-fixtures", conv: "fc749b53-5672-41fa-87c7-c579c337199d", fixtures: true},
}

func TestGolden(t *testing.T) {
	for _, gc := range goldenCases {
		t.Run(gc.name, func(t *testing.T) {
			if gc.fixtures {
				fixturesDir(t)
			}
			steps := loadScript(t, gc.name+".script.jsonl")
			spans := runSteps(t, gc.conv, Options{}, steps, false)
			checkNoDuplicates(t, spans)
			checkInvariants(t, gc.conv, spans)
			got := renderTree(gc.name+".script.jsonl", spans)
			compareGolden(t, filepath.Join("testdata", gc.name+".golden"), got)
		})
	}
}

func compareGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./transcript/cursor -update)", err)
	}
	if string(want) != got {
		t.Errorf("span tree differs from %s (run with -update and review the diff):\n%s", path, lineDiff(string(want), got))
	}
}

func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, a, b)
		}
	}
	return ""
}
