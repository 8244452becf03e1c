package daemon

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/config"
	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/hooks"
	"github.com/weave-agentd/weave-agentd/transcript"
	"github.com/weave-agentd/weave-agentd/transcript/codex"
)

// A Codex CLI 0.171.0 session that spawned a subagent (shapes of a real
// capture, long fields cut): the parent's rollout and the child's, named by
// their thread ids. $P is the parent session, $C the child thread, $PT the
// parent's turn.
const (
	cxParent     = "01a247ba-2144-7192-a55a-ae4afb9e29e5"
	cxChild      = "01a247ba-23c0-7e91-a264-d82d49197fbc"
	cxParentTurn = "01a247ba-21a4-7783-96d6-3eb134c1a985"
	cxChildTurn  = "01a247ba-23da-7722-b37c-4245cd5b4825"
)

// cxParentHead is the parent's rollout until it waits for the child; the
// rest follows when the child is done.
const cxParentHead = `
{"timestamp":"2026-12-05T19:41:50.390Z","type":"session_meta","payload":{"session_id":"$P","id":"$P","cwd":"/home/dev/project","originator":"codex_exec","cli_version":"0.171.0","source":"exec","thread_source":"user","model_provider":"mock"}}
{"timestamp":"2026-12-05T19:41:50.399Z","type":"event_msg","payload":{"type":"task_started","turn_attribution":{"turn_id":"$PT","turn_trigger":"exec","parent_turn_id":null,"root_turn_id":"$PT"},"turn_id":"$PT","root_turn_id":"$PT"}}
{"timestamp":"2026-12-05T19:41:50.551Z","type":"turn_context","payload":{"turn_id":"$PT","root_turn_id":"$PT","cwd":"/home/dev/project","model":"mock-model"}}
{"timestamp":"2026-12-05T19:41:50.694Z","type":"event_msg","payload":{"type":"item_completed","thread_id":"$P","turn_id":"$PT","item":{"type":"UserMessage","id":"u1","content":[{"type":"text","text":"delegate an echo","text_elements":[]}]},"started_at_ms":1796499710694,"completed_at_ms":1796499710694}}
{"timestamp":"2026-12-05T19:41:50.812Z","type":"response_item","payload":{"type":"function_call","status":"completed","name":"spawn_agent","namespace":"multi_agent_v1","arguments":"{\"message\":\"SUBTASK: run echo\"}","call_id":"call_spawn","internal_chat_message_metadata_passthrough":{"turn_id":"$PT"}}}
{"timestamp":"2026-12-05T19:41:50.822Z","type":"token_usage_record","payload":{"thread_id":"$P","turn_id":"$PT","session_id":"$P","root_turn_id":"$PT","response_id":"resp_p1","usage":{"input_tokens":100,"cached_input_tokens":0,"cache_write_input_tokens":0,"output_tokens":10,"reasoning_output_tokens":0,"total_tokens":110}}}
{"timestamp":"2026-12-05T19:41:50.948Z","type":"event_msg","payload":{"type":"item_completed","thread_id":"$P","turn_id":"$PT","item":{"type":"CollabAgentToolCall","id":"call_spawn","tool":"spawn_agent","status":"completed","sender_thread_id":"$P","receiver_thread_ids":["$C"],"receiver_agents":[{"thread_id":"$C","agent_nickname":"Galileo"}],"prompt":"SUBTASK: run echo","model":"mock-model","agents_states":{"$C":"pending_init"}},"started_at_ms":1796499710908,"completed_at_ms":1796499710948}}
{"timestamp":"2026-12-05T19:41:51.043Z","type":"response_item","payload":{"type":"function_call_output","call_id":"call_spawn","output":"{\"agent_id\":\"$C\",\"nickname\":\"Galileo\"}","internal_chat_message_metadata_passthrough":{"turn_id":"$PT"}}}
{"timestamp":"2026-12-05T19:41:51.150Z","type":"response_item","payload":{"type":"function_call","status":"completed","name":"wait_agent","namespace":"multi_agent_v1","arguments":"{\"targets\":[\"$C\"],\"timeout_ms\":60000}","call_id":"call_wait","internal_chat_message_metadata_passthrough":{"turn_id":"$PT"}}}
{"timestamp":"2026-12-05T19:41:51.154Z","type":"token_usage_record","payload":{"thread_id":"$P","turn_id":"$PT","session_id":"$P","root_turn_id":"$PT","response_id":"resp_p2","usage":{"input_tokens":100,"cached_input_tokens":0,"cache_write_input_tokens":0,"output_tokens":10,"reasoning_output_tokens":0,"total_tokens":110}}}
`

const cxParentTail = `
{"timestamp":"2026-12-05T19:41:51.603Z","type":"event_msg","payload":{"type":"item_completed","thread_id":"$P","turn_id":"$PT","item":{"type":"CollabAgentToolCall","id":"call_wait","tool":"wait","status":"completed","sender_thread_id":"$P","receiver_thread_ids":["$C"],"receiver_agents":[{"thread_id":"$C","agent_nickname":"Galileo"}],"agents_states":{"$C":{"completed":"Subtask done."}}},"started_at_ms":1796499711232,"completed_at_ms":1796499711603}}
{"timestamp":"2026-12-05T19:41:51.673Z","type":"response_item","payload":{"type":"function_call_output","call_id":"call_wait","output":"{\"status\":{\"$C\":{\"completed\":\"Subtask done.\"}},\"timed_out\":false}","internal_chat_message_metadata_passthrough":{"turn_id":"$PT"}}}
{"timestamp":"2026-12-05T19:41:52.490Z","type":"response_item","payload":{"type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"All done.","annotations":[]}],"internal_chat_message_metadata_passthrough":{"turn_id":"$PT"}}}
{"timestamp":"2026-12-05T19:41:52.492Z","type":"token_usage_record","payload":{"thread_id":"$P","turn_id":"$PT","session_id":"$P","root_turn_id":"$PT","response_id":"resp_p3","usage":{"input_tokens":100,"cached_input_tokens":0,"cache_write_input_tokens":0,"output_tokens":10,"reasoning_output_tokens":0,"total_tokens":110}}}
{"timestamp":"2026-12-05T19:41:52.563Z","type":"event_msg","payload":{"type":"task_complete","root_turn_id":"$PT","turn_id":"$PT","last_agent_message":"All done."}}
`

const cxChildRollout = `
{"timestamp":"2026-12-05T19:41:50.946Z","type":"session_meta","payload":{"session_id":"$P","id":"$C","parent_thread_id":"$P","cwd":"/home/dev/project","originator":"codex_exec","cli_version":"0.171.0","source":{"subagent":{"thread_spawn":{"parent_thread_id":"$P","depth":1,"agent_path":null,"agent_nickname":"Galileo","agent_role":null}}},"thread_source":"subagent","agent_nickname":"Galileo","model_provider":"mock"}}
{"timestamp":"2026-12-05T19:41:50.946Z","type":"event_msg","payload":{"type":"task_started","turn_attribution":{"turn_id":"$CT","turn_trigger":"exec","parent_turn_id":"$PT","initiating_agent_path":null,"root_turn_id":"$PT"},"turn_id":"$CT","root_turn_id":"$PT"}}
{"timestamp":"2026-12-05T19:41:50.992Z","type":"turn_context","payload":{"turn_id":"$CT","root_turn_id":"$PT","cwd":"/home/dev/project","model":"mock-model"}}
{"timestamp":"2026-12-05T19:41:51.112Z","type":"event_msg","payload":{"type":"item_completed","thread_id":"$C","turn_id":"$CT","item":{"type":"UserMessage","id":"u2","content":[{"type":"text","text":"SUBTASK: run echo","text_elements":[]}]},"started_at_ms":1796499711112,"completed_at_ms":1796499711112}}
{"timestamp":"2026-12-05T19:41:51.238Z","type":"response_item","payload":{"type":"function_call","status":"completed","name":"exec_command","arguments":"{\"cmd\":\"echo first\"}","call_id":"call_child","internal_chat_message_metadata_passthrough":{"turn_id":"$CT"}}}
{"timestamp":"2026-12-05T19:41:51.248Z","type":"token_usage_record","payload":{"thread_id":"$C","turn_id":"$CT","session_id":"$P","root_turn_id":"$PT","response_id":"resp_c1","usage":{"input_tokens":100,"cached_input_tokens":0,"cache_write_input_tokens":0,"output_tokens":10,"reasoning_output_tokens":0,"total_tokens":110}}}
{"timestamp":"2026-12-05T19:41:51.517Z","type":"response_item","payload":{"type":"function_call_output","call_id":"call_child","output":"first\n","internal_chat_message_metadata_passthrough":{"turn_id":"$CT"}}}
{"timestamp":"2026-12-05T19:41:51.584Z","type":"response_item","payload":{"type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Subtask done.","annotations":[]}],"internal_chat_message_metadata_passthrough":{"turn_id":"$CT"}}}
{"timestamp":"2026-12-05T19:41:51.586Z","type":"token_usage_record","payload":{"thread_id":"$C","turn_id":"$CT","session_id":"$P","root_turn_id":"$PT","response_id":"resp_c2","usage":{"input_tokens":100,"cached_input_tokens":0,"cache_write_input_tokens":0,"output_tokens":10,"reasoning_output_tokens":0,"total_tokens":110}}}
{"timestamp":"2026-12-05T19:41:51.597Z","type":"event_msg","payload":{"type":"task_complete","root_turn_id":"$PT","turn_id":"$CT","last_agent_message":"Subtask done."}}
`

func cxLines(s string) []string {
	s = strings.NewReplacer("$PT", cxParentTurn, "$CT", cxChildTurn, "$P", cxParent, "$C", cxChild).Replace(s)
	return strings.Split(strings.TrimSpace(s), "\n")
}

// codexHook runs the real hook client, as Codex's hooks.json has it.
func codexHook(t *testing.T, home, payload string) {
	t.Helper()
	var out bytes.Buffer
	code := hooks.RunHook([]string{hooks.AgentCodex}, strings.NewReader(payload), &out, func(k string) string {
		if k == "WEAVE_AGENTD_HOME" {
			return home
		}
		return ""
	})
	if code != 0 {
		t.Fatalf("hook: code=%d out=%q", code, out.String())
	}
}

// weave-agentd starts while a Codex session waits for its subagent: the
// parent's rollout, last written before the start, is not discovered yet;
// the first the daemon hears of the parent session is the child's hook
// (the parent's session_id, the child's rollout as transcript_path). That
// path is not the parent session's transcript: the child's rollout is
// followed as the child's own session (discovery), and the parent's rollout
// is followed once discovery sees it change. Every span arrives once.
func TestCodexChildHookDoesNotNameTheParentsTranscript(t *testing.T) {
	srv := newFakeOTLP(t)
	home := t.TempDir()
	root := filepath.Join(home, ".codex", "sessions")
	day := filepath.Join(root, "2026", "12", "05")
	if err := os.MkdirAll(day, 0o700); err != nil {
		t.Fatal(err)
	}
	parent := filepath.Join(day, "rollout-2026-12-05T19-41-50-"+cxParent+".jsonl")
	child := filepath.Join(day, "rollout-2026-12-05T19-41-50-"+cxChild+".jsonl")
	writeTranscript(t, parent, cxLines(cxParentHead)...)
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(parent, old, old); err != nil {
		t.Fatal(err)
	}
	td := startTestDaemon(t, home, config.Target{URL: srv.URL}, func(s *Settings) {
		s.HookAgents = map[string]string{hooks.AgentCodex: genai.AgentCodex}
		s.Builders = map[string]BuilderFactory{genai.AgentCodex: func(_, session, path string) transcript.Builder {
			return codex.Agent{}.NewBuilder(session, transcript.BuilderOptions{TranscriptPath: path})
		}}
		s.Discover = []DiscoverRoot{{Agent: genai.AgentCodex, Dir: root}}
	})
	writeTranscript(t, child, cxLines(cxChildRollout)...)
	codexHook(t, home, `{"session_id":"`+cxParent+`","transcript_path":"`+child+`","cwd":"/home/dev/project","hook_event_name":"UserPromptSubmit","model":"mock-model","permission_mode":"bypassPermissions","turn_id":"`+cxChildTurn+`","prompt":"SUBTASK: run echo","agent_id":"`+cxChild+`","agent_type":"default"}`)
	td.flush(t, 5*time.Second)
	writeTranscript(t, parent, cxLines(cxParentTail)...)
	want := map[string]int{
		"invoke_agent codex": 1, "invoke_agent default": 1, "chat mock-model": 5,
		"execute_tool spawn_agent": 1, "execute_tool wait_agent": 1, "execute_tool exec_command": 1,
	}
	var got map[string]int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		td.flush(t, 5*time.Second)
		if got = srv.accepted(); got["invoke_agent codex"] > 0 && got["invoke_agent default"] > 0 {
			break
		}
	}
	td.flush(t, 5*time.Second)
	got = srv.accepted()
	for name, n := range want {
		if got[name] != n {
			t.Errorf("%s: %d spans, want %d (all: %v)", name, got[name], n, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("spans %v, want %v", got, want)
	}
}
