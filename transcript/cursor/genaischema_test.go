package cursor

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/internal/testkit"
	"github.com/weave-agentd/weave-agentd/transcript/internal/schematest"
)

// TestGenAISchemas: every GenAI JSON attribute of every span built from each
// Cursor shape (every testdata/schema payload inside a prompt…stop turn, all
// of them in one session, the golden scripts, the real payloads) matches the
// official schema as built, and after the daemon's redaction and size cap at
// 4096 bytes and at the default.
func TestGenAISchemas(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "schema", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no schema payloads: %v", err)
	}
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(filepath.Base(f), ".json"))
	}
	sort.Strings(names)
	scenarios := map[string]func(t *testing.T) []genai.Span{
		"all shapes in one session": func(t *testing.T) []genai.Span {
			return runSteps(t, schemaConv, Options{}, schemaSteps(t, names...), false)
		},
	}
	for _, n := range names {
		scenarios["shape "+n] = func(t *testing.T) []genai.Span {
			return runSteps(t, schemaConv, Options{}, schemaSteps(t, "beforeSubmitPrompt", "afterAgentThought", n, "afterAgentResponse", "stop"), false)
		}
	}
	for _, gc := range goldenCases {
		scenarios["golden "+gc.name] = func(t *testing.T) []genai.Span {
			if gc.fixtures {
				testkit.Fixtures(t)
			}
			return runSteps(t, gc.conv, Options{}, loadScript(t, gc.name+".script.jsonl"), false)
		}
	}
	if fx, ok := testkit.FixturesOK(); ok {
		scenarios["real payloads"] = func(t *testing.T) []genai.Span {
			entries, err := os.ReadDir(filepath.Join(fx, cursorFixtures))
			if err != nil {
				t.Fatal(err)
			}
			var steps []step
			for i, e := range entries {
				steps = append(steps, fixtureStep(t, e.Name(), base.Add(time.Duration(i)*time.Second)))
			}
			return runSteps(t, fixtureConv, Options{}, steps, false)
		}
	}
	// Cursor records no system instructions or tool definitions; some shapes
	// carry no GenAI JSON attribute at all.
	schematest.Check(t, scenarios, true, genai.InputMessagesKey, genai.OutputMessagesKey)
}
