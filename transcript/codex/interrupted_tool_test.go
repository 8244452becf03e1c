package codex

import (
	"testing"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/internal/testkit"
)

// An interrupted command (0.171.0, seen by the e2e test
// TestCodexInterruptedTurn): its function_call_output says "aborted by
// user" before turn_aborted, and its CommandExecution (exit -1) comes after
// turn_aborted or never. Its tool span has error status, error.type
// "interrupted", whatever the order.
func TestInterruptedToolIsError(t *testing.T) {
	path := "/h/.codex/sessions/2026/12/05/rollout-2026-12-05T14-02-16-s.jsonl"
	l := func(s string) []byte { return []byte(s) }
	head := [][]byte{
		l(`{"timestamp":"2026-12-05T14:02:16.000Z","type":"event_msg","payload":{"type":"task_started","turn_id":"t"}}`),
		l(`{"timestamp":"2026-12-05T14:02:17.000Z","type":"response_item","payload":{"type":"function_call","name":"exec_command","arguments":"{\"cmd\":\"sleep 5\"}","call_id":"c1","internal_chat_message_metadata_passthrough":{"turn_id":"t"}}}`),
		l(`{"timestamp":"2026-12-05T14:02:17.100Z","type":"token_usage_record","payload":{"turn_id":"t","response_id":"r1","usage":{"input_tokens":10,"output_tokens":2}}}`),
		l(`{"timestamp":"2026-12-05T14:02:18.000Z","type":"response_item","payload":{"type":"function_call_output","call_id":"c1","output":"Wall time: 0.9 seconds\naborted by user","internal_chat_message_metadata_passthrough":{"turn_id":"t"}}}`),
	}
	aborted := l(`{"timestamp":"2026-12-05T14:02:18.100Z","type":"event_msg","payload":{"type":"turn_aborted","turn_id":"t","reason":"interrupted"}}`)
	exec := l(`{"timestamp":"2026-12-05T14:02:18.200Z","type":"event_msg","payload":{"type":"item_completed","turn_id":"t","item":{"type":"CommandExecution","id":"c1","status":"failed","exit_code":-1,"duration":{"secs":0,"nanos":900000000}},"started_at_ms":1796479337100,"completed_at_ms":1796479338000}}`)
	for name, lines := range map[string][][]byte{
		"no CommandExecution":           append(head[:len(head):len(head)], aborted),
		"CommandExecution after abort":  append(head[:len(head):len(head)], aborted, exec),
		"CommandExecution before abort": append(head[:len(head):len(head)], exec, aborted),
	} {
		spans := runLines("s", Options{TranscriptPath: path}, path, lines)
		testkit.CheckNoDuplicates(t, spans)
		var tool *genai.Span
		for i := range spans {
			if spans[i].Name == "execute_tool exec_command" {
				tool = &spans[i]
			}
		}
		if tool == nil {
			t.Fatalf("%s: no tool span in %d spans", name, len(spans))
		}
		if a := testkit.AttrMap(*tool); tool.Status != genai.StatusError || a["error.type"] != "interrupted" || a["gen_ai.tool.call.result"] == "" {
			t.Errorf("%s: tool span status %v %q error.type %q result %q, want an interrupted error with its output", name, tool.Status, tool.StatusMessage, a["error.type"], a["gen_ai.tool.call.result"])
		}
	}
}
