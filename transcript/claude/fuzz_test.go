package claude

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/transcript"

	"github.com/weave-agentd/weave-agentd/internal/testkit"
)

// FuzzLine feeds arbitrary lines (seeded with real ones) to the parser and
// the builder: nothing may panic, and the state must survive a round trip.
func FuzzLine(f *testing.F) {
	if fx, ok := testkit.FixturesOK(); ok {
		for _, gc := range goldenCases {
			for i, l := range testkit.ReadLines(f, filepath.Join(fx, gc.main)) {
				if i%7 == 0 && len(l) < 8<<10 {
					f.Add(l)
				}
			}
		}
	}
	for _, s := range []string{
		``, `{}`, `null`, `[]`, `"x"`, `{"type":"user"}`, `{"type":"assistant","message":null}`,
		`{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"image","source":{"data":1}}]}]}}`,
		`{"type":"assistant","message":{"id":"m","content":"str","usage":{"input_tokens":-5}}}`,
		`{"type":"assistant","message":{"id":"m","content":[{"type":"tool_use","id":"t","name":"Task","input":"notobj"}]},"apiBlockIndex":1}`,
		`{"type":"system","subtype":"compact_boundary","compactMetadata":"x"}`,
		`{"type":"user","isSidechain":true,"parentUuid":null,"uuid":"u","message":{"content":"p"}}`,
		`{"type":"user","isSidechain":true,"agentId":"../x","message":{"content":"p"}}`,
		`{"type":"progress","data":{"type":"agent_progress","agentId":"a"},"parentToolUseID":"t"}`,
		`{"type":"user","toolUseResult":{"agentId":7},"message":{"content":[{"type":"tool_result"}]}}`,
		"{\"type\":\"user\",\"message\":{\"content\":\"\xff\xfe\"}}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		_, _ = parseLine(line)
		b := New("s", Options{TranscriptPath: "/nonexistent/s.jsonl"})
		b.Line("/nonexistent/s.jsonl", line)
		b.Line("/nonexistent/s/subagents/agent-a1.jsonl", line)
		b.Hook(transcript.Event{Name: "Stop", Payload: line})
		b.Hook(transcript.Event{Name: "PostToolUse", Payload: line})
		b.Tick(time.Unix(1e9, 0))
		b.Tick(time.Unix(2e9, 0))
		b.Take()
		st, err := b.MarshalState()
		if err != nil {
			t.Fatal(err)
		}
		if err := New("s", Options{}).RestoreState(st); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzJstr: the hand-written string decoder agrees with encoding/json on
// every valid JSON string (the scanner hands jstr nothing else).
func FuzzJstr(f *testing.F) {
	for _, s := range []string{`"plain"`, `"a\nb\t\"q\" \\ \/"`, `"\u00e9\u4e2d\ud83d\ude00"`, `"\ud83d"`, `"\ud83d\u0041"`,
		"\"bad \xff utf8\"", `"\x"`, `"ctl` + "\x01" + `"`, `"\u12"`, `""`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var want string
		err := json.Unmarshal(b, &want)
		if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
			return
		}
		got := jstr(b)
		if err == nil && got != want {
			t.Fatalf("jstr(%q) = %q, encoding/json says %q", b, got, want)
		}
	})
}
