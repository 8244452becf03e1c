package codex

import (
	"testing"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/internal/testkit"
)

// A turn that failed on an API error (0.171.0 after a 500 with no retries
// left, seen by the e2e test TestCodexFailedTurn) ends with a task_complete
// carrying the error and no answer: its turn span has error status.
func TestFailedTurnHasErrorStatus(t *testing.T) {
	path := "/h/.codex/sessions/2026/12/05/rollout-2026-12-05T14-02-16-s.jsonl"
	for _, c := range []struct{ info, want string }{
		{`"internal_server_error"`, "internal_server_error"},
		{`{"response_stream_disconnected":{"http_status_code":null}}`, "response_stream_disconnected"},
		{`null`, "error"},
	} {
		spans := runLines("s", Options{TranscriptPath: path}, path, [][]byte{
			[]byte(`{"timestamp":"2026-12-05T14:02:16.764Z","type":"event_msg","payload":{"type":"task_started","turn_id":"t"}}`),
			[]byte(`{"timestamp":"2026-12-05T14:02:17.764Z","type":"event_msg","payload":{"type":"task_complete","turn_id":"t","last_agent_message":null,"error":{"message":"We’re currently experiencing high demand, which may cause temporary errors.","codex_error_info":` + c.info + `}}}`),
		})
		if len(spans) != 1 {
			t.Fatalf("%s: %d spans", c.info, len(spans))
		}
		s := spans[0]
		if s.Status != genai.StatusError || testkit.AttrMap(s)["error.type"] != c.want || s.StatusMessage == "" {
			t.Errorf("%s: status %v %q error.type %q, want error %q", c.info, s.Status, s.StatusMessage, testkit.AttrMap(s)["error.type"], c.want)
		}
	}
}
