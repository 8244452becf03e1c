package cursor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/genai"

	"github.com/weave-agentd/weave-agentd/internal/testkit"
)

const fixtureConv = "fc749b53-5672-41fa-87c7-c579c337199d"

func fixtureStep(t testing.TB, file string, at time.Time) step {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testkit.Fixtures(t), cursorFixtures, file))
	if err != nil {
		t.Fatal(err)
	}
	return hookStep(at, file+at.Format("150405.000"), string(b))
}

// TestFixturePayloads feeds each real cursor-agent 2026.10.01 payload to a
// fresh builder: what it does at once, and after every time rule fired.
func TestFixturePayloads(t *testing.T) {
	dir := filepath.Join(testkit.Fixtures(t), cursorFixtures)
	const tp = "/Users/dev/.cursor/projects/private-var-folders-43-vlrn2t5d7n37d4rg8mn30w940000gn-T-tmp-edAE9VE3q8/agent-transcripts/fc749b53-5672-41fa-87c7-c579c337199d/fc749b53-5672-41fa-87c7-c579c337199d.jsonl"
	headlessTrace := genai.NewTraceID("cursor", fixtureConv, fixtureConv+"#1")
	cases := []struct {
		file      string
		now, late []string // span names at once / after the time rules
		files     []string
		check     func(t *testing.T, now []genai.Span, b *Builder)
	}{
		{file: "sessionStart-1.json", check: func(t *testing.T, _ []genai.Span, b *Builder) {
			if b.st.Sess.Version != "2026.10.01-e373342" || !b.st.Sess.StartPending || b.st.Sess.Background == nil {
				t.Errorf("session %+v", b.st.Sess)
			}
			if !b.Idle() {
				t.Error("sessionStart alone opens no turn")
			}
		}},
		{file: "postToolUse-1.json", now: []string{"execute_tool Shell"}, late: []string{"invoke_agent cursor"}, files: []string{tp},
			check: func(t *testing.T, now []genai.Span, b *Builder) {
				s := now[0]
				if s.TraceID != headlessTrace || s.ParentID != genai.NewSpanID(headlessTrace, genai.KindTurn, "turn") {
					t.Error("headless turn key must be conversation id + ordinal")
				}
				if d := s.End.Sub(s.Start); d != 134820*time.Microsecond {
					t.Errorf("duration %v, want 134.82ms", d)
				}
				a := testkit.AttrMap(s)
				if a["gen_ai.tool.call.id"] != "73da88f4-bc52-4b85-bdbe-34de8fa9c3e8" ||
					a["gen_ai.tool.call.arguments"] != `{"command":"go version","cwd":"/private/work","timeout":30000}` ||
					a["gen_ai.tool.call.result"] != `{"output":"go version go1.27.1 darwin/arm64\n","exitCode":0}` ||
					a["gen_ai.provider.name"] != "cursor" {
					t.Errorf("attributes %v", a)
				}
				if b.Idle() {
					t.Error("an open turn is not idle")
				}
			}},
		{file: "postToolUseFailure-1.json", now: []string{"execute_tool Shell"}, late: []string{"invoke_agent cursor"}, files: []string{tp},
			check: func(t *testing.T, now []genai.Span, _ *Builder) {
				s := now[0]
				a := testkit.AttrMap(s)
				if s.Status != genai.StatusError || a["error.type"] != "error" ||
					!strings.HasPrefix(s.StatusMessage, "# example.com/broken/cmd/app cmd/app/main.go:4:2: undefined: greet") ||
					a["gen_ai.tool.call.result"] != "# example.com/broken/cmd/app\ncmd/app/main.go:4:2: undefined: greet" {
					t.Errorf("status %v %q, attributes %v", s.Status, s.StatusMessage, a)
				}
				if d := s.End.Sub(s.Start); d != 3113281*time.Microsecond {
					t.Errorf("duration %v", d)
				}
			}},
		// Alone, an afterShellExecution waits for its tool event until the turn ends.
		{file: "afterShellExecution-1.json", late: []string{"execute_tool Shell", "invoke_agent cursor"}, files: []string{tp}},
		{file: "afterShellExecution-2.json", late: []string{"execute_tool Shell", "invoke_agent cursor"}, files: []string{tp}},
		{file: "sessionEnd-1.json", files: []string{tp}},
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, tc := range cases {
		covered[tc.file] = true
		t.Run(tc.file, func(t *testing.T) {
			b := New(fixtureConv, Options{})
			apply(b, fixtureStep(t, tc.file, base))
			now := b.Take()
			if got := names(now); got != strings.Join(tc.now, ",") {
				t.Errorf("spans at once: %q, want %q", got, strings.Join(tc.now, ","))
			}
			if got := strings.Join(b.Files(), ","); got != strings.Join(tc.files, ",") {
				t.Errorf("Files() = %q", got)
			}
			if tc.check != nil {
				tc.check(t, now, b)
			}
			settle(b, base)
			late := b.Take()
			if got := names(late); got != strings.Join(tc.late, ",") {
				t.Errorf("spans later: %q, want %q", got, strings.Join(tc.late, ","))
			}
			all := append(now, late...)
			checkInvariants(t, fixtureConv, all)
			testkit.CheckNoDuplicates(t, all)
			if b.Stats().Events != 1 {
				t.Errorf("stats %+v", b.Stats())
			}
		})
	}
	for _, e := range entries {
		if !covered[e.Name()] {
			t.Errorf("fixture %s has no case", e.Name())
		}
	}
}

func names(spans []genai.Span) string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return strings.Join(out, ",")
}

// TestFixtureShellDedupe: one command fires afterShellExecution and
// postToolUse(Failure); in any order, each command is one span.
func TestFixtureShellDedupe(t *testing.T) {
	testkit.Fixtures(t)
	files := []string{"afterShellExecution-1.json", "postToolUseFailure-1.json", "afterShellExecution-2.json", "postToolUse-1.json"}
	for _, perm := range permutations(len(files)) {
		var order []string
		steps := []step{fixtureStep(t, "sessionStart-1.json", base)}
		for i, j := range perm {
			order = append(order, files[j])
			steps = append(steps, fixtureStep(t, files[j], base.Add(time.Duration(4+i)*time.Second)))
		}
		steps = append(steps, fixtureStep(t, "sessionEnd-1.json", base.Add(20179*time.Millisecond)))
		spans := runSteps(t, fixtureConv, Options{}, steps, false)
		testkit.CheckNoDuplicates(t, spans)
		var shells, failed, synthetic int
		for _, s := range spans {
			if s.Name == "execute_tool Shell" {
				shells++
				if s.Status == genai.StatusError {
					failed++
				}
				if testkit.AttrMap(s)["cursor.tool.source"] != "" {
					synthetic++
				}
			}
		}
		if shells != 2 || failed != 1 || synthetic != 0 || len(spans) != 3 {
			t.Errorf("order %v: %d spans, %d Shell (%d failed, %d from after*)", order, len(spans), shells, failed, synthetic)
		}
	}
}

func permutations(n int) [][]int {
	if n == 0 {
		return [][]int{{}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for i := 0; i <= len(p); i++ {
			q := append(append(append([]int{}, p[:i]...), n-1), p[i:]...)
			out = append(out, q)
		}
	}
	return out
}
