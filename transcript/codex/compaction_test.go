package codex

import (
	"strings"
	"testing"

	"github.com/weave-agentd/weave-agentd/internal/testkit"
)

// Auto-compaction in the middle of a turn (0.171.0, seen by the e2e test
// TestCodexAutoCompaction): the summarising call's answer and usage, then a
// `compacted` record (the summary with Codex's preamble, and the history
// that replaces the old one), then a ContextCompaction item. The turn span
// carries weave.compaction.summary / .items_before / .items_after, as
// Claude Code's do; the summary is kept out of the state in metadata mode.
func TestCompactionOnTurnSpan(t *testing.T) {
	path := "/h/.codex/sessions/2026/12/05/rollout-2026-12-05T14-02-16-s.jsonl"
	l := func(s string) []byte { return []byte(s) }
	msg := func(role, text string) []byte {
		return l(`{"timestamp":"2026-12-05T14:02:16.500Z","type":"response_item","payload":{"type":"message","role":"` + role + `","content":[{"type":"input_text","text":"` + text + `"}],"internal_chat_message_metadata_passthrough":{"turn_id":"t"}}}`)
	}
	lines := [][]byte{
		l(`{"timestamp":"2026-12-05T14:02:16.000Z","type":"event_msg","payload":{"type":"task_started","turn_id":"t"}}`),
		msg("developer", "<instructions>"),
		msg("user", "<environment_context>"),
		msg("user", "first question"),
		l(`{"timestamp":"2026-12-05T14:02:17.000Z","type":"response_item","payload":{"type":"function_call","name":"exec_command","arguments":"{\"cmd\":\"echo big\"}","call_id":"c1","internal_chat_message_metadata_passthrough":{"turn_id":"t"}}}`),
		l(`{"timestamp":"2026-12-05T14:02:17.100Z","type":"token_usage_record","payload":{"turn_id":"t","response_id":"r1","usage":{"input_tokens":300000,"output_tokens":20}}}`),
		l(`{"timestamp":"2026-12-05T14:02:17.200Z","type":"response_item","payload":{"type":"function_call_output","call_id":"c1","output":"big","internal_chat_message_metadata_passthrough":{"turn_id":"t"}}}`),
		l(`{"timestamp":"2026-12-05T14:02:18.000Z","type":"response_item","payload":{"type":"message","role":"assistant","content":[{"type":"output_text","text":"SUMMARY: the echo ran."}],"internal_chat_message_metadata_passthrough":{"turn_id":"t"}}}`),
		l(`{"timestamp":"2026-12-05T14:02:18.100Z","type":"token_usage_record","payload":{"turn_id":"t","response_id":"r2","usage":{"input_tokens":3000,"output_tokens":40}}}`),
		l(`{"timestamp":"2026-12-05T14:02:18.200Z","type":"compacted","payload":{"message":"Another language model started to solve this problem and produced a summary of its thinking process. Here is the summary produced by the other language model, use the information in this summary to assist with your own analysis:\nSUMMARY: the echo ran.","replacement_history":[{"type":"message","role":"developer","content":[]},{"type":"message","role":"user","content":[{"type":"input_text","text":"first question"}]},{"type":"message","role":"user","content":[{"type":"input_text","text":"Another language model…"}]}]}}`),
		l(`{"timestamp":"2026-12-05T14:02:18.300Z","type":"event_msg","payload":{"type":"item_completed","turn_id":"t","item":{"type":"ContextCompaction","id":"x"},"started_at_ms":1796479338000,"completed_at_ms":1796479338300}}`),
		l(`{"timestamp":"2026-12-05T14:02:19.000Z","type":"response_item","payload":{"type":"message","role":"assistant","content":[{"type":"output_text","text":"Done after compaction."}],"internal_chat_message_metadata_passthrough":{"turn_id":"t"}}}`),
		l(`{"timestamp":"2026-12-05T14:02:19.100Z","type":"token_usage_record","payload":{"turn_id":"t","response_id":"r3","usage":{"input_tokens":1700,"output_tokens":15}}}`),
		l(`{"timestamp":"2026-12-05T14:02:19.200Z","type":"event_msg","payload":{"type":"task_complete","turn_id":"t","last_agent_message":"Done after compaction."}}`),
	}
	for _, drop := range []bool{false, true} {
		spans := runLines("s", Options{TranscriptPath: path, DropContent: drop}, path, lines)
		var turn map[string]string
		for _, s := range spans {
			if s.Name == "invoke_agent codex" {
				turn = testkit.AttrMap(s)
			}
		}
		if turn == nil {
			t.Fatalf("no turn span")
		}
		// Before: the 6 response items of the history (3 messages, the
		// call, its output, the summarising call's answer); after: the 3
		// of replacement_history.
		if turn["weave.compaction.items_before"] != "6" || turn["weave.compaction.items_after"] != "3" {
			t.Errorf("drop=%v: items before %q after %q, want 6 and 3", drop, turn["weave.compaction.items_before"], turn["weave.compaction.items_after"])
		}
		if want := "SUMMARY: the echo ran."; !drop && turn["weave.compaction.summary"] != want {
			t.Errorf("summary %q, want %q", turn["weave.compaction.summary"], want)
		}
	}
	// Metadata mode: the summary is not in the persisted state.
	b := New("s", Options{TranscriptPath: path, DropContent: true})
	for _, line := range lines[:10] {
		b.Line(path, line)
	}
	st, err := b.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(st), "echo ran") {
		t.Errorf("metadata mode keeps the summary in the state: %s", st)
	}
}
