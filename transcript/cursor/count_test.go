package cursor

import (
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/transcript"
)

// Count: prompts, tool calls and failed turns of the JSONL format and of
// the old text format; the first prompt's time when Cursor wrote one.
func TestCount(t *testing.T) {
	for name, tc := range map[string]struct {
		lines []string
		want  transcript.Counts
	}{
		"jsonl": {[]string{
			`{"role":"user","message":{"content":[{"type":"text","text":"<timestamp>Friday, Nov 20, 2026, 9:00 AM (UTC)</timestamp>\n<user_query>\nfix it\n</user_query>"}]}}`,
			`{"role":"assistant","message":{"content":[{"type":"text","text":"Editing."},{"type":"tool_use","name":"Write","input":{"path":"a"}},{"type":"tool_use","name":"Shell","input":{"command":"make"}}]}}`,
			`{"type":"turn_ended","status":"aborted"}`,
			`{"role":"user","message":{"content":[{"type":"text","text":"<user_query>\nagain\n</user_query>"}]}}`,
			`{"type":"turn_ended","status":"success"}`,
		}, transcript.Counts{Turns: 2, FailedTurns: 1, ToolCalls: 2, Started: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)}},
		"text": {[]string{"user:", "<user_query>hi</user_query>", "", "assistant:", "[Tool call] Shell", "  command: ls"},
			transcript.Counts{Turns: 1, ToolCalls: 1}},
	} {
		var c transcript.Counts
		for _, l := range tc.lines {
			Agent{}.Count([]byte(l), &c)
		}
		if !c.Started.Equal(tc.want.Started) {
			t.Errorf("%s: started %v, want %v", name, c.Started, tc.want.Started)
		}
		c.Started, tc.want.Started = time.Time{}, time.Time{}
		if c != tc.want {
			t.Errorf("%s: %+v, want %+v", name, c, tc.want)
		}
	}
}

func TestProject(t *testing.T) {
	for path, want := range map[string]string{
		"/h/.cursor/projects/Users-me-web/agent-transcripts/c1/c1.jsonl": "Users-me-web",
		"/h/.cursor/projects/Users-me-web/agent-transcripts/c2.txt":      "Users-me-web",
		"/tmp/c3.jsonl": "",
	} {
		if got := (Agent{}).Project(path); got != want {
			t.Errorf("Project(%s) = %q, want %q", path, got, want)
		}
	}
}

func TestQueryTime(t *testing.T) {
	for line, want := range map[string]time.Time{
		`"text":"<timestamp>Monday, Aug 24, 2026, 3:01 PM (UTC-5)</timestamp>\n<user_query>`: time.Date(2026, 8, 24, 20, 1, 0, 0, time.UTC),
		`<timestamp>Friday, Nov 20, 2026, 9:00 AM (UTC)</timestamp>`:                         time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC),
		`<timestamp>Friday, Nov 20, 2026, 9:00 AM (UTC+5:30)</timestamp>`:                    time.Date(2026, 11, 20, 3, 30, 0, 0, time.UTC),
		`<timestamp>soon</timestamp>`:                                                        {},
		`no tag`:                                                                             {},
	} {
		if got := queryTime([]byte(line)); !got.Equal(want) {
			t.Errorf("queryTime(%s) = %v, want %v", line, got, want)
		}
	}
}
