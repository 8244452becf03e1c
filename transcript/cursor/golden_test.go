package cursor

import (
	"path/filepath"
	"testing"

	"github.com/weave-agentd/weave-agentd/internal/testkit"
)

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
				testkit.Fixtures(t)
			}
			steps := loadScript(t, gc.name+".script.jsonl")
			spans := runSteps(t, gc.conv, Options{}, steps, false)
			testkit.CheckNoDuplicates(t, spans)
			checkInvariants(t, gc.conv, spans)
			got := renderTree(gc.name+".script.jsonl", spans)
			testkit.Golden(t, filepath.Join("testdata", gc.name+".golden"), got)
		})
	}
}
