package claude

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/transcript"

	"github.com/weave-agentd/weave-agentd/internal/testkit"
)

// Real 2.1.291 transcript with the real PostToolUse(Failure) payloads of
// the same session: tool durations come from duration_ms.
func TestHookDurations2_1_291(t *testing.T) {
	fx := testkit.Fixtures(t)
	dir := filepath.Join(fx, "claude-code/forgelore-hooks-v2.1.289-291/2.1.291")
	path := filepath.Join(dir, "transcript.jsonl")
	lines := testkit.ReadLines(t, path)
	payload := func(name string) transcript.Event {
		p, err := os.ReadFile(filepath.Join(dir, name+"-1.json"))
		if err != nil {
			t.Fatal(err)
		}
		return transcript.Event{Agent: "claude-code", Name: name, Payload: p}
	}
	resultLine := func(tool string) int {
		for i, l := range lines {
			if bytes.Contains(l, []byte(`"tool_use_id":"`+tool+`"`)) && bytes.Contains(l, []byte(`"type":"user"`)) {
				return i
			}
		}
		t.Fatalf("no result for %s", tool)
		return -1
	}
	const build, version = "toolu_01JTLvHzYX3M9wu3axbKU2Du", "toolu_01EV8cKLYmrAFTLQe2LGdvHu"
	rBuild, rVersion := resultLine(build), resultLine(version)
	now := time.Date(2026, 10, 6, 10, 15, 0, 0, time.UTC)

	cases := []struct {
		name        string
		versionHook bool // PostToolUse for `go version` arrives (late)
		wantVersion time.Duration
	}{
		{"late hook", true, 46 * time.Millisecond},
		{"hook never comes: bounded wait", false, 71 * time.Millisecond /* tool_use line to result line */},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := New("7ee671e6-598e-454b-abd9-a0db9258f0da", Options{TranscriptPath: path})
			b.Tick(now)
			feed := func(from, to int) {
				for _, l := range lines[from:to] {
					b.Line(path, l)
				}
			}
			feed(0, rBuild)
			b.Hook(payload("PostToolUseFailure")) // the hook beat the transcript
			feed(rBuild, rBuild+1)
			got := b.Take()
			if len(got) != 1 || testkit.AttrMap(got[0])["gen_ai.tool.call.id"] != build {
				t.Fatalf("build tool span not emitted at its result line: %d spans", len(got))
			}
			if d := got[0].End.Sub(got[0].Start); d != 328*time.Millisecond {
				t.Errorf("build duration %s, want the hook's 328ms", d)
			}
			feed(rBuild+1, rVersion+1)
			mid := b.Take()
			for _, s := range mid {
				if testkit.AttrMap(s)["gen_ai.tool.call.id"] == version {
					t.Fatal("version tool emitted before its hook or the wait")
				}
			}
			if tc.versionHook {
				b.Hook(payload("PostToolUse"))
			} else {
				b.Tick(now.Add(400 * time.Millisecond))
				if n := len(b.Take()); n != 0 {
					t.Fatalf("%d spans before the hook wait ended", n)
				}
				b.Tick(now.Add(500 * time.Millisecond))
			}
			got = b.Take()
			if len(got) != 1 || testkit.AttrMap(got[0])["gen_ai.tool.call.id"] != version {
				t.Fatalf("version tool span: %d spans", len(got))
			}
			if d := got[0].End.Sub(got[0].Start); d != tc.wantVersion {
				t.Errorf("version duration %s, want %s", d, tc.wantVersion)
			}
			feed(rVersion+1, len(lines))
			settle(b)
			rest := b.Take()
			if n := len(mid) + len(rest); n != 4 { // 3 chats + turn
				t.Errorf("%d more spans, want 4", n)
			}
		})
	}
}
