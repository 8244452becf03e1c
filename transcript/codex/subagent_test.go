package codex

import (
	"strings"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/internal/testkit"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// A subagent (0.171.0 multi_agent_v1, seen by the e2e test
// TestCodexSubagent): the parent's spawn_agent call starts a child thread
// with its own rollout, whose session_meta names the parent's session and
// whose task_started names the parent's turn (turn_attribution). The
// parent's builder draws the subagent span under the spawn call's span; the
// child's builder puts its chat and tool spans under that span, in the
// parent's trace and conversation.
const (
	subParent     = "01a24770-8696-7213-9545-48e409dced93"
	subChild      = "01a24770-8f08-7e63-b7ef-7aa085a8ccfa"
	subParentTurn = "01a24770-894c-7550-9e22-b33a7b867c00"
	subParentPath = "/h/.codex/sessions/2026/12/05/rollout-2026-12-05T18-21-26-" + subParent + ".jsonl"
	subChildPath  = "/h/.codex/sessions/2026/12/05/rollout-2026-12-05T18-21-28-" + subChild + ".jsonl"
)

func subLines(s string) [][]byte {
	s = strings.NewReplacer("$PT", subParentTurn, "$P", subParent, "$C", subChild).Replace(s)
	var out [][]byte
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		out = append(out, []byte(strings.TrimSpace(l)))
	}
	return out
}

var subParentLines = subLines(`
{"timestamp":"2026-12-05T18:21:26.606Z","type":"session_meta","payload":{"session_id":"$P","id":"$P","cwd":"/p","originator":"codex_exec","cli_version":"0.171.0","source":"exec","thread_source":"user","model_provider":"mock"}}
{"timestamp":"2026-12-05T18:21:27.000Z","type":"event_msg","payload":{"type":"task_started","turn_attribution":{"turn_id":"$PT","parent_turn_id":null,"root_turn_id":"$PT"},"turn_id":"$PT","root_turn_id":"$PT"}}
{"timestamp":"2026-12-05T18:21:27.100Z","type":"turn_context","payload":{"turn_id":"$PT","cwd":"/p","model":"mock-model"}}
{"timestamp":"2026-12-05T18:21:27.200Z","type":"response_item","payload":{"type":"message","role":"user","content":[{"type":"input_text","text":"delegate an echo"}],"internal_chat_message_metadata_passthrough":{"turn_id":"$PT"}}}
{"timestamp":"2026-12-05T18:21:28.600Z","type":"response_item","payload":{"type":"function_call","name":"spawn_agent","namespace":"multi_agent_v1","arguments":"{\"message\":\"SUBTASK: run echo\"}","call_id":"call_spawn","internal_chat_message_metadata_passthrough":{"turn_id":"$PT"}}}
{"timestamp":"2026-12-05T18:21:28.650Z","type":"token_usage_record","payload":{"thread_id":"$P","turn_id":"$PT","session_id":"$P","response_id":"resp_p1","usage":{"input_tokens":1500,"cached_input_tokens":1000,"output_tokens":80}}}
{"timestamp":"2026-12-05T18:21:28.760Z","type":"event_msg","payload":{"type":"item_completed","thread_id":"$P","turn_id":"$PT","item":{"type":"CollabAgentToolCall","id":"call_spawn","tool":"spawn_agent","status":"completed","sender_thread_id":"$P","receiver_thread_ids":["$C"],"receiver_agents":[{"thread_id":"$C","agent_nickname":"Erdos"}],"prompt":"SUBTASK: run echo","model":"mock-model","agents_states":{"$C":"pending_init"}},"started_at_ms":1796494888707,"completed_at_ms":1796494888759}}
{"timestamp":"2026-12-05T18:21:28.770Z","type":"response_item","payload":{"type":"function_call_output","call_id":"call_spawn","output":"{\"agent_id\":\"$C\",\"nickname\":\"Erdos\"}","internal_chat_message_metadata_passthrough":{"turn_id":"$PT"}}}
{"timestamp":"2026-12-05T18:21:29.600Z","type":"response_item","payload":{"type":"function_call","name":"wait_agent","namespace":"multi_agent_v1","arguments":"{\"targets\":[\"$C\"]}","call_id":"call_wait","internal_chat_message_metadata_passthrough":{"turn_id":"$PT"}}}
{"timestamp":"2026-12-05T18:21:29.620Z","type":"token_usage_record","payload":{"thread_id":"$P","turn_id":"$PT","session_id":"$P","response_id":"resp_p2","usage":{"input_tokens":1700,"cached_input_tokens":1400,"output_tokens":15}}}
{"timestamp":"2026-12-05T18:21:31.700Z","type":"event_msg","payload":{"type":"item_completed","thread_id":"$P","turn_id":"$PT","item":{"type":"CollabAgentToolCall","id":"call_wait","tool":"wait","status":"completed","sender_thread_id":"$P","receiver_thread_ids":["$C"],"receiver_agents":[{"thread_id":"$C","agent_nickname":"Erdos"}],"agents_states":{"$C":{"completed":"Subtask done."}}},"started_at_ms":1796494889632,"completed_at_ms":1796494891691}}
{"timestamp":"2026-12-05T18:21:31.710Z","type":"response_item","payload":{"type":"function_call_output","call_id":"call_wait","output":"{\"status\":{\"$C\":{\"completed\":\"Subtask done.\"}},\"timed_out\":false}","internal_chat_message_metadata_passthrough":{"turn_id":"$PT"}}}
{"timestamp":"2026-12-05T18:21:32.000Z","type":"response_item","payload":{"type":"message","role":"assistant","content":[{"type":"output_text","text":"The subagent ran it."}],"internal_chat_message_metadata_passthrough":{"turn_id":"$PT"}}}
{"timestamp":"2026-12-05T18:21:32.050Z","type":"token_usage_record","payload":{"thread_id":"$P","turn_id":"$PT","session_id":"$P","response_id":"resp_p3","usage":{"input_tokens":1500,"cached_input_tokens":1000,"output_tokens":80}}}
{"timestamp":"2026-12-05T18:21:32.100Z","type":"event_msg","payload":{"type":"task_complete","turn_id":"$PT","last_agent_message":"The subagent ran it."}}
`)

var subChildLines = subLines(`
{"timestamp":"2026-12-05T18:21:28.721Z","type":"session_meta","payload":{"session_id":"$P","id":"$C","parent_thread_id":"$P","cwd":"/p","originator":"codex_exec","cli_version":"0.171.0","source":{"subagent":{"thread_spawn":{"parent_thread_id":"$P","depth":1,"agent_path":null,"agent_nickname":"Erdos","agent_role":null}}},"thread_source":"subagent","agent_nickname":"Erdos","model_provider":"mock"}}
{"timestamp":"2026-12-05T18:21:28.800Z","type":"event_msg","payload":{"type":"task_started","turn_attribution":{"turn_id":"ct","parent_turn_id":"$PT","root_turn_id":"$PT"},"turn_id":"ct","root_turn_id":"$PT"}}
{"timestamp":"2026-12-05T18:21:28.810Z","type":"turn_context","payload":{"turn_id":"ct","root_turn_id":"$PT","cwd":"/p","model":"mock-model"}}
{"timestamp":"2026-12-05T18:21:28.900Z","type":"response_item","payload":{"type":"message","role":"user","content":[{"type":"input_text","text":"SUBTASK: run echo"}],"internal_chat_message_metadata_passthrough":{"turn_id":"ct"}}}
{"timestamp":"2026-12-05T18:21:30.000Z","type":"response_item","payload":{"type":"function_call","name":"exec_command","arguments":"{\"cmd\":\"echo from-the-subagent\"}","call_id":"call_child","internal_chat_message_metadata_passthrough":{"turn_id":"ct"}}}
{"timestamp":"2026-12-05T18:21:30.010Z","type":"token_usage_record","payload":{"thread_id":"$C","turn_id":"ct","session_id":"$P","root_turn_id":"$PT","response_id":"resp_c1","usage":{"input_tokens":1500,"cached_input_tokens":1000,"output_tokens":80}}}
{"timestamp":"2026-12-05T18:21:30.500Z","type":"response_item","payload":{"type":"function_call_output","call_id":"call_child","output":"from-the-subagent","internal_chat_message_metadata_passthrough":{"turn_id":"ct"}}}
{"timestamp":"2026-12-05T18:21:31.600Z","type":"response_item","payload":{"type":"message","role":"assistant","content":[{"type":"output_text","text":"Subtask done."}],"internal_chat_message_metadata_passthrough":{"turn_id":"ct"}}}
{"timestamp":"2026-12-05T18:21:31.650Z","type":"token_usage_record","payload":{"thread_id":"$C","turn_id":"ct","session_id":"$P","root_turn_id":"$PT","response_id":"resp_c2","usage":{"input_tokens":1700,"cached_input_tokens":1400,"output_tokens":15}}}
{"timestamp":"2026-12-05T18:21:31.680Z","type":"event_msg","payload":{"type":"task_complete","root_turn_id":"$PT","turn_id":"ct","last_agent_message":"Subtask done."}}
`)

func TestSubagentNestsUnderSpawnCall(t *testing.T) {
	parent := runLines(subParent, Options{TranscriptPath: subParentPath}, subParentPath, subParentLines)
	child := runLines(subChild, Options{TranscriptPath: subChildPath}, subChildPath, subChildLines)
	all := append(append([]genai.Span(nil), parent...), child...)
	testkit.CheckNoDuplicates(t, all)

	trace := genai.NewTraceID(genai.AgentCodex, subParent, subParentTurn)
	spawn := genai.NewSpanID(trace, genai.KindTool, "call_spawn")
	sub := genai.NewSpanID(trace, genai.KindSubagent, subChild)
	byID := map[genai.SpanID]genai.Span{}
	for _, s := range all {
		byID[s.SpanID] = s
	}
	sa, ok := byID[sub]
	if !ok {
		t.Fatalf("no subagent span %s:\n%s", sub, renderTree("spans", all))
	}
	a := testkit.AttrMap(sa)
	if sa.Name != "invoke_agent default" || sa.TraceID != trace || sa.ParentID != spawn ||
		a["gen_ai.agent.id"] != subChild || a["gen_ai.tool.call.id"] != "call_spawn" ||
		a["gen_ai.conversation.id"] != subParent || a["gen_ai.operation.name"] != "invoke_agent" {
		t.Errorf("subagent span: %s", testkit.SpanString(sa))
	}
	if sa.Start.After(sa.End) || !sa.End.Equal(timeMS(1796494891691)) {
		t.Errorf("subagent span %v..%v, want it to end when wait saw it complete", sa.Start, sa.End)
	}
	if _, ok := byID[spawn]; !ok {
		t.Errorf("no spawn tool span")
	}
	for k := range a {
		if strings.HasPrefix(k, "gen_ai.usage.") {
			t.Errorf("subagent span carries %s", k)
		}
	}
	n := 0
	for _, s := range child {
		a := testkit.AttrMap(s)
		if strings.HasPrefix(s.Name, "invoke_agent") {
			t.Errorf("the child's rollout makes its own %q span", s.Name)
			continue
		}
		n++
		if s.TraceID != trace || s.ParentID != sub || a["gen_ai.conversation.id"] != subParent || a["gen_ai.agent.name"] != "default" {
			t.Errorf("child span not under the subagent span in the parent's trace: %s", testkit.SpanString(s))
		}
		if _, ok := a["gen_ai.conversation.name"]; ok {
			t.Errorf("child span names the conversation (it cannot know the parent's title): %s", testkit.SpanString(s))
		}
	}
	if n != 3 {
		t.Errorf("%d child chat and tool spans, want 3", n)
	}
	// Restart at every line of either rollout: the same spans.
	for name, c := range map[string]struct {
		session, path string
		lines         [][]byte
		want          []genai.Span
	}{"parent": {subParent, subParentPath, subParentLines, parent}, "child": {subChild, subChildPath, subChildLines, child}} {
		fx := fixture{name: name, session: c.session, path: c.path, lines: c.lines}
		for k := 0; k <= len(c.lines); k++ {
			if got := runSplit(t, fx, Options{TranscriptPath: c.path}, k); canonical(got) != canonical(c.want) {
				t.Fatalf("%s: restart after line %d changes the spans:\n%s", name, k, testkit.LineDiff(canonical(c.want), canonical(got)))
			}
		}
	}
}

func timeMS(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// A subagent's hooks carry the spawning session's session_id, so they reach
// its builder, with the subagent's transcript_path and turn ids: the
// builder takes neither the path nor a prompt from them.
func TestSubagentHooksIgnored(t *testing.T) {
	b := New(subParent, Options{})
	b.Hook(transcript.Event{Name: "UserPromptSubmit", Payload: []byte(`{"session_id":"` + subParent + `","transcript_path":"` + subChildPath + `","hook_event_name":"UserPromptSubmit","turn_id":"ct","prompt":"SUBTASK","agent_id":"` + subChild + `","agent_type":"default"}`)})
	if got := b.Files(); len(got) != 0 || b.st.Prompt != nil {
		t.Errorf("a subagent's hook set files %v, prompt %+v", got, b.st.Prompt)
	}
}

// A follow-up (0.171.0, captured with the real CLI): after wait_agent saw
// the child done, the parent's send_input gives it another message. Codex
// runs it as a second turn of the child's thread, whose turn_id is the
// send_input output's submission_id, and a later wait_agent sees it done.
// That run is drawn as its own `invoke_agent` under the send_input call's
// span, and the child's second turn hangs under it, as the first run hangs
// under the spawn.
const (
	fuSendCall  = "call_2ea248b9f818c02bb731fd5f"
	fuChildTurn = "01a247ba-2745-7351-bdbf-a974b9b4af30"
)

var fuParentLines = subLines(`
{"timestamp":"2026-12-05T19:41:50.390Z","type":"session_meta","payload":{"session_id":"$P","id":"$P","cwd":"/p","originator":"codex_exec","cli_version":"0.171.0","source":"exec","thread_source":"user","model_provider":"mock"}}
{"timestamp":"2026-12-05T19:41:50.399Z","type":"event_msg","payload":{"type":"task_started","turn_attribution":{"turn_id":"$PT","turn_trigger":"exec","parent_turn_id":null,"root_turn_id":"$PT"},"turn_id":"$PT","root_turn_id":"$PT"}}
{"timestamp":"2026-12-05T19:41:50.551Z","type":"turn_context","payload":{"turn_id":"$PT","root_turn_id":"$PT","cwd":"/p","model":"mock-model"}}
{"timestamp":"2026-12-05T19:41:50.694Z","type":"event_msg","payload":{"type":"item_completed","thread_id":"$P","turn_id":"$PT","item":{"type":"UserMessage","id":"u1","content":[{"type":"text","text":"delegate twice","text_elements":[]}]},"started_at_ms":1796499710694,"completed_at_ms":1796499710694}}
{"timestamp":"2026-12-05T19:41:50.812Z","type":"response_item","payload":{"type":"function_call","status":"completed","name":"spawn_agent","namespace":"multi_agent_v1","arguments":"{\"message\":\"SUBTASK: run echo\"}","call_id":"call_spawn","internal_chat_message_metadata_passthrough":{"turn_id":"$PT"}}}
{"timestamp":"2026-12-05T19:41:50.822Z","type":"token_usage_record","payload":{"thread_id":"$P","turn_id":"$PT","session_id":"$P","root_turn_id":"$PT","response_id":"resp_p1","usage":{"input_tokens":100,"cached_input_tokens":0,"output_tokens":10,"total_tokens":110}}}
{"timestamp":"2026-12-05T19:41:50.948Z","type":"event_msg","payload":{"type":"item_completed","thread_id":"$P","turn_id":"$PT","item":{"type":"CollabAgentToolCall","id":"call_spawn","tool":"spawn_agent","status":"completed","sender_thread_id":"$P","receiver_thread_ids":["$C"],"receiver_agents":[{"thread_id":"$C","agent_nickname":"Galileo"}],"prompt":"SUBTASK: run echo","model":"mock-model","reasoning_effort":"medium","agents_states":{"$C":"pending_init"}},"started_at_ms":1796499710908,"completed_at_ms":1796499710948}}
{"timestamp":"2026-12-05T19:41:51.043Z","type":"response_item","payload":{"type":"function_call_output","call_id":"call_spawn","output":"{\"agent_id\":\"$C\",\"nickname\":\"Galileo\"}","internal_chat_message_metadata_passthrough":{"turn_id":"$PT"}}}
{"timestamp":"2026-12-05T19:41:51.150Z","type":"response_item","payload":{"type":"function_call","status":"completed","name":"wait_agent","namespace":"multi_agent_v1","arguments":"{\"targets\":[\"$C\"],\"timeout_ms\":60000}","call_id":"call_wait1","internal_chat_message_metadata_passthrough":{"turn_id":"$PT"}}}
{"timestamp":"2026-12-05T19:41:51.154Z","type":"token_usage_record","payload":{"thread_id":"$P","turn_id":"$PT","session_id":"$P","root_turn_id":"$PT","response_id":"resp_p2","usage":{"input_tokens":100,"cached_input_tokens":0,"output_tokens":10,"total_tokens":110}}}
{"timestamp":"2026-12-05T19:41:51.603Z","type":"event_msg","payload":{"type":"item_completed","thread_id":"$P","turn_id":"$PT","item":{"type":"CollabAgentToolCall","id":"call_wait1","tool":"wait","status":"completed","sender_thread_id":"$P","receiver_thread_ids":["$C"],"receiver_agents":[{"thread_id":"$C","agent_nickname":"Galileo"}],"agents_states":{"$C":{"completed":"Subtask done."}}},"started_at_ms":1796499711232,"completed_at_ms":1796499711603}}
{"timestamp":"2026-12-05T19:41:51.673Z","type":"response_item","payload":{"type":"function_call_output","call_id":"call_wait1","output":"{\"status\":{\"$C\":{\"completed\":\"Subtask done.\"}},\"timed_out\":false}","internal_chat_message_metadata_passthrough":{"turn_id":"$PT"}}}
{"timestamp":"2026-12-05T19:41:51.684Z","type":"response_item","payload":{"type":"message","role":"user","content":[{"type":"input_text","text":"<subagent_notification>\n{\"agent_path\":\"$C\",\"status\":{\"completed\":\"Subtask done.\"}}\n</subagent_notification>"}],"internal_chat_message_metadata_passthrough":{"turn_id":"$PT","content_item_kinds":["multi_agent.subagent_notification"]}}}
{"timestamp":"2026-12-05T19:41:51.738Z","type":"response_item","payload":{"type":"function_call","status":"completed","name":"send_input","namespace":"multi_agent_v1","arguments":"{\"message\":\"FOLLOWUP: run it again\",\"target\":\"$C\"}","call_id":"call_2ea248b9f818c02bb731fd5f","internal_chat_message_metadata_passthrough":{"turn_id":"$PT"}}}
{"timestamp":"2026-12-05T19:41:51.740Z","type":"token_usage_record","payload":{"thread_id":"$P","turn_id":"$PT","session_id":"$P","root_turn_id":"$PT","response_id":"resp_p3","usage":{"input_tokens":100,"cached_input_tokens":0,"output_tokens":10,"total_tokens":110}}}
{"timestamp":"2026-12-05T19:41:51.820Z","type":"event_msg","payload":{"type":"item_completed","thread_id":"$P","turn_id":"$PT","item":{"type":"CollabAgentToolCall","id":"call_2ea248b9f818c02bb731fd5f","tool":"send_input","status":"completed","sender_thread_id":"$P","receiver_thread_ids":["$C"],"receiver_agents":[{"thread_id":"$C","agent_nickname":"Galileo"}],"prompt":"FOLLOWUP: run it again","agents_states":{"$C":{"completed":"Subtask done."}}},"started_at_ms":1796499711813,"completed_at_ms":1796499711820}}
{"timestamp":"2026-12-05T19:41:51.960Z","type":"response_item","payload":{"type":"function_call_output","call_id":"call_2ea248b9f818c02bb731fd5f","output":"{\"submission_id\":\"01a247ba-2745-7351-bdbf-a974b9b4af30\"}","internal_chat_message_metadata_passthrough":{"turn_id":"$PT"}}}
{"timestamp":"2026-12-05T19:41:52.027Z","type":"response_item","payload":{"type":"function_call","status":"completed","name":"wait_agent","namespace":"multi_agent_v1","arguments":"{\"targets\":[\"$C\"],\"timeout_ms\":60000}","call_id":"call_wait2","internal_chat_message_metadata_passthrough":{"turn_id":"$PT"}}}
{"timestamp":"2026-12-05T19:41:52.029Z","type":"token_usage_record","payload":{"thread_id":"$P","turn_id":"$PT","session_id":"$P","root_turn_id":"$PT","response_id":"resp_p4","usage":{"input_tokens":100,"cached_input_tokens":0,"output_tokens":10,"total_tokens":110}}}
{"timestamp":"2026-12-05T19:41:52.358Z","type":"event_msg","payload":{"type":"item_completed","thread_id":"$P","turn_id":"$PT","item":{"type":"CollabAgentToolCall","id":"call_wait2","tool":"wait","status":"completed","sender_thread_id":"$P","receiver_thread_ids":["$C"],"receiver_agents":[{"thread_id":"$C","agent_nickname":"Galileo"}],"agents_states":{"$C":{"completed":"Followup done."}}},"started_at_ms":1796499712145,"completed_at_ms":1796499712358}}
{"timestamp":"2026-12-05T19:41:52.427Z","type":"response_item","payload":{"type":"function_call_output","call_id":"call_wait2","output":"{\"status\":{\"$C\":{\"completed\":\"Followup done.\"}},\"timed_out\":false}","internal_chat_message_metadata_passthrough":{"turn_id":"$PT"}}}
{"timestamp":"2026-12-05T19:41:52.490Z","type":"response_item","payload":{"type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"All done.","annotations":[]}],"internal_chat_message_metadata_passthrough":{"turn_id":"$PT"}}}
{"timestamp":"2026-12-05T19:41:52.492Z","type":"token_usage_record","payload":{"thread_id":"$P","turn_id":"$PT","session_id":"$P","root_turn_id":"$PT","response_id":"resp_p5","usage":{"input_tokens":100,"cached_input_tokens":0,"output_tokens":10,"total_tokens":110}}}
{"timestamp":"2026-12-05T19:41:52.563Z","type":"event_msg","payload":{"type":"task_complete","root_turn_id":"$PT","turn_id":"$PT","last_agent_message":"All done."}}
`)

var fuChildLines = subLines(`
{"timestamp":"2026-12-05T19:41:50.946Z","type":"session_meta","payload":{"session_id":"$P","id":"$C","parent_thread_id":"$P","cwd":"/p","originator":"codex_exec","cli_version":"0.171.0","source":{"subagent":{"thread_spawn":{"parent_thread_id":"$P","depth":1,"agent_path":null,"agent_nickname":"Galileo","agent_role":null}}},"thread_source":"subagent","agent_nickname":"Galileo","model_provider":"mock"}}
{"timestamp":"2026-12-05T19:41:50.946Z","type":"event_msg","payload":{"type":"task_started","turn_attribution":{"turn_id":"ct1","turn_trigger":"exec","parent_turn_id":"$PT","initiating_agent_path":null,"root_turn_id":"$PT"},"turn_id":"ct1","root_turn_id":"$PT"}}
{"timestamp":"2026-12-05T19:41:50.992Z","type":"turn_context","payload":{"turn_id":"ct1","root_turn_id":"$PT","cwd":"/p","model":"mock-model"}}
{"timestamp":"2026-12-05T19:41:51.112Z","type":"event_msg","payload":{"type":"item_completed","thread_id":"$C","turn_id":"ct1","item":{"type":"UserMessage","id":"u2","content":[{"type":"text","text":"SUBTASK: run echo","text_elements":[]}]},"started_at_ms":1796499711112,"completed_at_ms":1796499711112}}
{"timestamp":"2026-12-05T19:41:51.238Z","type":"response_item","payload":{"type":"function_call","status":"completed","name":"exec_command","arguments":"{\"cmd\":\"echo first\"}","call_id":"call_first","internal_chat_message_metadata_passthrough":{"turn_id":"ct1"}}}
{"timestamp":"2026-12-05T19:41:51.248Z","type":"token_usage_record","payload":{"thread_id":"$C","turn_id":"ct1","session_id":"$P","root_turn_id":"$PT","response_id":"resp_c1","usage":{"input_tokens":100,"cached_input_tokens":0,"output_tokens":10,"total_tokens":110}}}
{"timestamp":"2026-12-05T19:41:51.517Z","type":"response_item","payload":{"type":"function_call_output","call_id":"call_first","output":"first\n","internal_chat_message_metadata_passthrough":{"turn_id":"ct1"}}}
{"timestamp":"2026-12-05T19:41:51.584Z","type":"response_item","payload":{"type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Subtask done.","annotations":[]}],"internal_chat_message_metadata_passthrough":{"turn_id":"ct1"}}}
{"timestamp":"2026-12-05T19:41:51.586Z","type":"token_usage_record","payload":{"thread_id":"$C","turn_id":"ct1","session_id":"$P","root_turn_id":"$PT","response_id":"resp_c2","usage":{"input_tokens":100,"cached_input_tokens":0,"output_tokens":10,"total_tokens":110}}}
{"timestamp":"2026-12-05T19:41:51.597Z","type":"event_msg","payload":{"type":"task_complete","root_turn_id":"$PT","turn_id":"ct1","last_agent_message":"Subtask done."}}
{"timestamp":"2026-12-05T19:41:51.819Z","type":"event_msg","payload":{"type":"task_started","turn_attribution":{"turn_id":"01a247ba-2745-7351-bdbf-a974b9b4af30","turn_trigger":"exec","parent_turn_id":"$PT","initiating_agent_path":null,"root_turn_id":"$PT"},"turn_id":"01a247ba-2745-7351-bdbf-a974b9b4af30","root_turn_id":"$PT"}}
{"timestamp":"2026-12-05T19:41:51.837Z","type":"turn_context","payload":{"turn_id":"01a247ba-2745-7351-bdbf-a974b9b4af30","root_turn_id":"$PT","cwd":"/p","model":"mock-model"}}
{"timestamp":"2026-12-05T19:41:51.940Z","type":"event_msg","payload":{"type":"item_completed","thread_id":"$C","turn_id":"01a247ba-2745-7351-bdbf-a974b9b4af30","item":{"type":"UserMessage","id":"u3","content":[{"type":"text","text":"FOLLOWUP: run it again","text_elements":[]}]},"started_at_ms":1796499711940,"completed_at_ms":1796499711940}}
{"timestamp":"2026-12-05T19:41:51.989Z","type":"response_item","payload":{"type":"function_call","status":"completed","name":"exec_command","arguments":"{\"cmd\":\"echo again\"}","call_id":"call_again","internal_chat_message_metadata_passthrough":{"turn_id":"01a247ba-2745-7351-bdbf-a974b9b4af30"}}}
{"timestamp":"2026-12-05T19:41:51.992Z","type":"token_usage_record","payload":{"thread_id":"$C","turn_id":"01a247ba-2745-7351-bdbf-a974b9b4af30","session_id":"$P","root_turn_id":"$PT","response_id":"resp_c3","usage":{"input_tokens":100,"cached_input_tokens":0,"output_tokens":10,"total_tokens":110}}}
{"timestamp":"2026-12-05T19:41:52.264Z","type":"response_item","payload":{"type":"function_call_output","call_id":"call_again","output":"again\n","internal_chat_message_metadata_passthrough":{"turn_id":"01a247ba-2745-7351-bdbf-a974b9b4af30"}}}
{"timestamp":"2026-12-05T19:41:52.337Z","type":"response_item","payload":{"type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Followup done.","annotations":[]}],"internal_chat_message_metadata_passthrough":{"turn_id":"01a247ba-2745-7351-bdbf-a974b9b4af30"}}}
{"timestamp":"2026-12-05T19:41:52.340Z","type":"token_usage_record","payload":{"thread_id":"$C","turn_id":"01a247ba-2745-7351-bdbf-a974b9b4af30","session_id":"$P","root_turn_id":"$PT","response_id":"resp_c4","usage":{"input_tokens":100,"cached_input_tokens":0,"output_tokens":10,"total_tokens":110}}}
{"timestamp":"2026-12-05T19:41:52.354Z","type":"event_msg","payload":{"type":"task_complete","root_turn_id":"$PT","turn_id":"01a247ba-2745-7351-bdbf-a974b9b4af30","last_agent_message":"Followup done."}}
`)

func TestSubagentFollowUpNestsUnderSendInput(t *testing.T) {
	parent := runLines(subParent, Options{TranscriptPath: subParentPath}, subParentPath, fuParentLines)
	child := runLines(subChild, Options{TranscriptPath: subChildPath}, subChildPath, fuChildLines)
	all := append(append([]genai.Span(nil), parent...), child...)
	testkit.CheckNoDuplicates(t, all)
	trace := genai.NewTraceID(genai.AgentCodex, subParent, subParentTurn)
	byID := map[genai.SpanID]genai.Span{}
	for _, s := range all {
		byID[s.SpanID] = s
	}
	first := genai.NewSpanID(trace, genai.KindSubagent, subChild)
	run := genai.NewSpanID(trace, genai.KindSubagent, subChild+"/"+fuChildTurn)
	send := genai.NewSpanID(trace, genai.KindTool, fuSendCall)
	fs, ok := byID[first]
	if !ok || fs.ParentID != genai.NewSpanID(trace, genai.KindTool, "call_spawn") || !fs.End.Equal(timeMS(1796499711603)) {
		t.Fatalf("first run %s: %s\n%s", first, testkit.SpanString(fs), renderTree("spans", all))
	}
	rs, ok := byID[run]
	if !ok {
		t.Fatalf("no span for the send_input's run %s:\n%s", run, renderTree("spans", all))
	}
	a := testkit.AttrMap(rs)
	if rs.Name != "invoke_agent default" || rs.TraceID != trace || rs.ParentID != send ||
		a["gen_ai.agent.id"] != subChild || a["gen_ai.tool.call.id"] != fuSendCall || a["gen_ai.conversation.id"] != subParent ||
		!rs.Start.Equal(timeMS(1796499711813)) || !rs.End.Equal(timeMS(1796499712358)) ||
		!strings.Contains(a["gen_ai.input.messages"], "FOLLOWUP: run it again") || !strings.Contains(a["gen_ai.output.messages"], "Followup done.") {
		t.Errorf("send_input's run: %s", testkit.SpanString(rs))
	}
	if _, ok := byID[send]; !ok {
		t.Errorf("no send_input tool span")
	}
	// Each child span is under its own run's span, every parent is there.
	for _, s := range child {
		want := first
		id := testkit.AttrMap(s)["gen_ai.tool.call.id"] + testkit.AttrMap(s)["gen_ai.response.id"]
		if id == "call_again" || id == "resp_c3" || id == "resp_c4" {
			want = run
		}
		if s.TraceID != trace || s.ParentID != want {
			t.Errorf("child span %s (%s) under %s, want %s", s.Name, id, s.ParentID, want)
		}
	}
	for _, s := range all {
		if _, ok := byID[s.ParentID]; !ok && !s.ParentID.IsZero() {
			t.Errorf("%s: parent %s missing", s.Name, s.ParentID)
		}
	}
	for name, c := range map[string]struct {
		session, path string
		lines         [][]byte
		want          []genai.Span
	}{"parent": {subParent, subParentPath, fuParentLines, parent}, "child": {subChild, subChildPath, fuChildLines, child}} {
		fx := fixture{name: name, session: c.session, path: c.path, lines: c.lines}
		for k := 0; k <= len(c.lines); k++ {
			if got := runSplit(t, fx, Options{TranscriptPath: c.path}, k); canonical(got) != canonical(c.want) {
				t.Fatalf("%s: restart after line %d changes the spans:\n%s", name, k, testkit.LineDiff(canonical(c.want), canonical(got)))
			}
		}
	}
}

// A state that an older daemon saved with a subagent's rollout as the
// session's file (its hook came first) is not restored: it was built from
// the child's lines. The session's own rollout is learned again (from a
// hook, or the daemon), and its spans are its own.
func TestRestoredStateDropsAnotherSessionsRollout(t *testing.T) {
	a := New(subParent, Options{TranscriptPath: subChildPath})
	for _, l := range subChildLines {
		a.Line(subChildPath, l)
	}
	st, err := a.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	b := New(subParent, Options{})
	if err := b.RestoreState(st); err != nil {
		t.Fatal(err)
	}
	if got := b.Files(); len(got) != 0 {
		t.Errorf("files %v after restoring a state naming the subagent's rollout", got)
	}
	for _, l := range subParentLines {
		b.Line(subParentPath, l)
	}
	if got := b.Files(); len(got) != 1 || got[0] != subParentPath {
		t.Errorf("files %v, want the session's own rollout", got)
	}
	settle(b)
	want := runLines(subParent, Options{TranscriptPath: subParentPath}, subParentPath, subParentLines)
	if got := b.Take(); canonical(got) != canonical(want) {
		t.Errorf("spans after the restore:\n%s", testkit.LineDiff(canonical(want), canonical(got)))
	}
}
