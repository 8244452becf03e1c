package codex

import (
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/internal/testkit"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// FuzzCodexLine feeds arbitrary lines (seeded with the real ones) to the
// parser and the builder, as a rollout line and as a hook payload: nothing
// may panic, and the state must survive a round trip.
func FuzzCodexLine(f *testing.F) {
	if _, ok := testkit.FixturesOK(); ok {
		for _, name := range fixtureNames {
			for _, l := range loadFixture(f, name).lines {
				f.Add(l)
			}
		}
	}
	for _, s := range []string{
		``, `{}`, `null`, `[]`, `"x"`, `{"type":"event_msg"}`, `{"type":"event_msg","payload":null}`,
		`{"type":"event_msg","payload":{"type":"task_started","turn_id":"t"}}`,
		`{"type":"response_item","payload":{"type":"function_call","call_id":"c","arguments":"{not json"}}`,
		`{"type":"response_item","payload":{"type":"function_call","call_id":"c","arguments":{"a":1}}}`,
		`{"type":"response_item","payload":{"type":"function_call_output","call_id":"c","output":[{"type":"input_text","text":"x"}]}}`,
		`{"type":"event_msg","payload":{"type":"item_completed","turn_id":"t","item":{"type":"CommandExecution","id":"c","exit_code":"x","duration":{"secs":-1}},"started_at_ms":-5}}`,
		`{"type":"token_usage_record","payload":{"turn_id":"t","usage":{"input_tokens":-1}}}`,
		`{"type":"token_usage_record","payload":{"usage":null}}`,
		`{"type":"session_meta","payload":{"id":7,"base_instructions":"str","source":{"subagent":"x"}}}`,
		`{"type":"turn_context","payload":{"sandbox_policy":"read-only","approval_policy":{"granular":{}}}}`,
		`{"type":"event_msg","payload":{"type":"turn_aborted","reason":{"x":1}}}`,
		"{\"type\":\"response_item\",\"payload\":{\"type\":\"message\",\"role\":\"assistant\",\"content\":\"\xff\xfe\"}}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		_, _, _ = parseLine(line)
		_ = Agent{}.Cwd(line)
		b := New("s", Options{TranscriptPath: "/nonexistent/rollout-s.jsonl"})
		b.Line("/nonexistent/rollout-s.jsonl", []byte(`{"timestamp":"2026-12-05T14:02:16.764Z","type":"event_msg","payload":{"type":"task_started","turn_id":"t"}}`))
		b.Line("/nonexistent/rollout-s.jsonl", line)
		b.Line("/nonexistent/rollout-s.jsonl", line)
		b.Hook(transcript.Event{Name: "Stop", Payload: line})
		b.Hook(transcript.Event{Name: "SessionEnd", Payload: line})
		st, err := b.MarshalState()
		if err != nil {
			t.Fatal(err)
		}
		r := New("s", Options{})
		if err := r.RestoreState(st); err != nil {
			t.Fatal(err)
		}
		r.Line("/nonexistent/rollout-s.jsonl", line)
		r.Tick(time.Unix(1e9, 0))
		r.Tick(time.Unix(2e9, 0))
		r.Take()
		if _, err := r.MarshalState(); err != nil {
			t.Fatal(err)
		}
	})
}
