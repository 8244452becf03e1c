package cursor

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/genai"

	"github.com/weave-agentd/weave-agentd/internal/testkit"
)

// dump renders every field of every span, in emission order, so that two
// runs can be compared exactly.
func dump(spans []genai.Span) string {
	var sb strings.Builder
	for _, s := range spans {
		sb.WriteString(testkit.SpanString(s))
	}
	return sb.String()
}

type detCase struct {
	name, script, conv string
	fixtures           bool
}

var detCases = []detCase{
	{"ide", "ide-session.script.jsonl", "7b3e2a10-4c1d-4e8f-9a55-2f6d1c0e9b42", false},
	{"headless", "headless-fixtures.script.jsonl", fixtureConv, true},
}

func TestDeterminism(t *testing.T) {
	for _, dc := range detCases {
		t.Run(dc.name, func(t *testing.T) {
			if dc.fixtures {
				testkit.Fixtures(t)
			}
			steps := loadScript(t, dc.script)
			want := runSteps(t, dc.conv, Options{}, steps, false)
			if len(want) == 0 {
				t.Fatal("no spans")
			}
			testkit.CheckNoDuplicates(t, want)
			if got := runSteps(t, dc.conv, Options{}, steps, false); dump(got) != dump(want) {
				t.Errorf("a second run differs:\n%s", testkit.LineDiff(dump(want), dump(got)))
			}
			// A restart (MarshalState → New → RestoreState) between every input.
			split := runSteps(t, dc.conv, Options{}, steps, true)
			testkit.CheckNoDuplicates(t, split)
			if dump(split) != dump(want) {
				t.Errorf("split run differs:\n%s", testkit.LineDiff(dump(want), dump(split)))
			}
			// Every event delivered twice (a late ack plus an inbox copy).
			var twice []step
			for _, s := range steps {
				twice = append(twice, s)
				if s.Kind == "hook" {
					twice = append(twice, s)
				}
			}
			if got := runSteps(t, dc.conv, Options{}, twice, false); dump(got) != dump(want) {
				t.Errorf("redelivered events changed the spans:\n%s", testkit.LineDiff(dump(want), dump(got)))
			}
		})
	}
}

// TestReplayAddsNothing: after a whole session, the same hook events again
// (same ids, then new ids a day later) emit nothing.
func TestReplayAddsNothing(t *testing.T) {
	steps := loadScript(t, "ide-session.script.jsonl")
	conv := "7b3e2a10-4c1d-4e8f-9a55-2f6d1c0e9b42"
	b := New(conv, Options{})
	var spans []genai.Span
	for _, s := range steps {
		apply(b, s)
	}
	last := steps[len(steps)-1].At
	settle(b, last)
	spans = append(spans, b.Take()...)
	for round, shift := range []time.Duration{0, 24 * time.Hour} {
		for _, s := range steps {
			if s.Kind != "hook" {
				continue
			}
			if round == 1 {
				s.ID += "-again"
			}
			s.At = s.At.Add(shift)
			apply(b, s)
		}
		settle(b, last.Add(shift))
		if again := b.Take(); len(again) > 0 {
			t.Errorf("round %d: replay emitted %d spans:\n%s", round, len(again), renderTree("replay", again))
		}
	}
	testkit.CheckNoDuplicates(t, spans)
}

// claudeMapped are the events Cursor also sends to hooks imported from
// Claude Code settings (FORMATS.md 3.1).
var claudeMapped = map[string]bool{"preToolUse": true, "postToolUse": true, "beforeSubmitPrompt": true, "stop": true,
	"subagentStop": true, "sessionStart": true, "sessionEnd": true, "preCompact": true}

// TestClaudeImported: Cursor also runs hooks registered in Claude Code
// settings, sending Cursor-shaped payloads (cursor_version, camelCase names,
// cwd:"" on tool events). Imported copies beside the native hook, even when
// their envelope differs, give exactly the same spans; imported copies alone
// give the same spans too.
func TestClaudeImported(t *testing.T) {
	for _, dc := range detCases {
		t.Run(dc.name, func(t *testing.T) {
			if dc.fixtures {
				testkit.Fixtures(t)
			}
			steps := loadScript(t, dc.script)
			want := runSteps(t, dc.conv, Options{}, steps, false)
			imported := func(s step, n int, strip bool) step {
				var m map[string]json.RawMessage
				if err := json.Unmarshal(s.Payload, &m); err != nil {
					t.Fatal(err)
				}
				if _, ok := m["tool_name"]; ok {
					m["cwd"] = json.RawMessage(`""`)
				}
				if strip { // an envelope that differs: fingerprints cannot match
					delete(m, "model_params")
					delete(m, "user_email")
					m["transcript_path"] = json.RawMessage(`null`)
				}
				b, _ := json.Marshal(m)
				s.Payload = b
				s.ID = fmt.Sprintf("imported-%d", n)
				s.At = s.At.Add(3 * time.Millisecond)
				return s
			}
			var only, both, bothStripped []step
			for i, s := range steps {
				if s.Kind != "hook" {
					only, both, bothStripped = append(only, s), append(both, s), append(bothStripped, s)
					continue
				}
				only = append(only, imported(s, i, false))
				both = append(both, s, imported(s, i, false))
				bothStripped = append(bothStripped, s)
				if claudeMapped[s.Name] {
					bothStripped = append(bothStripped, imported(s, i, true))
				}
			}
			for name, in := range map[string][]step{"native+imported": both, "native+imported (other envelope)": bothStripped} {
				if got := runSteps(t, dc.conv, Options{}, in, false); dump(got) != dump(want) {
					t.Errorf("%s differs from native alone:\n%s", name, testkit.LineDiff(dump(want), dump(got)))
				}
			}
			// Imported alone: the same spans, 3 ms later.
			gotOnly := runSteps(t, dc.conv, Options{}, only, false)
			if a, b := renderShape(want), renderShape(gotOnly); a != b {
				t.Errorf("imported-only spans differ:\n%s", testkit.LineDiff(a, b))
			}
		})
	}
}

// renderShape is the span tree without times.
func renderShape(spans []genai.Span) string {
	var lines []string
	for _, s := range spans {
		a := testkit.AttrMap(s)
		keys := make([]string, 0, len(a))
		for k := range a {
			keys = append(keys, k+"="+a[k])
		}
		sort.Strings(keys)
		lines = append(lines, fmt.Sprintf("%s %s %s %s %d %s", s.TraceID, s.SpanID, s.ParentID, s.Name, s.Status, strings.Join(keys, " ")))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
