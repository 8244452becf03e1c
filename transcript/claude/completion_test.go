package claude

import (
	"strings"
	"testing"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/internal/testkit"
)

const (
	chatN = "chat claude-test-1"
	turnN = "invoke_agent claude-code"
)

func TestTurnCompletion(t *testing.T) {
	block := func(i int) obj { return obj{"apiBlockIndex": i, "promptId": nil} }
	type completionCase struct {
		name  string
		steps []step
		check func(t *testing.T, r *run)
	}
	cases := []completionCase{
		{
			name: "multi-block response (>=2.1.97) completed by the next record",
			steps: []step{
				ln(prompt("u1", 0, "hi", obj{"promptId": "P1"})),
				ln(asst("a1", 1, "m1", "end_turn", use(3, 50, 100, 10), thinking("hmm"), block(0))),
				ln(asst("a2", 2, "m1", "end_turn", use(3, 50, 100, 10), text("Done."), block(1))),
				ln(asst("a2b", 2, "m1", "end_turn", use(3, 50, 100, 10), text("Done."), block(1))), // replayed block
				want(),
				ln(sys("s1", 2.1, "stop_hook_summary", nil)),
				want(chatN, turnN),
			},
			check: func(t *testing.T, r *run) {
				if u := testkit.SumUsage(r.spans, nil); u.Input != 113 || u.Output != 50 || hasUsage(r.find(t, turnN)) {
					t.Errorf("usage counted more than once: in=%d out=%d", u.Input, u.Output)
				}
				c := testkit.AttrMap(r.find(t, chatN))
				if got := partTypes(c["gen_ai.output.messages"]); got != "reasoning,text" {
					t.Errorf("chat parts %q", got)
				}
				tr, _ := turnIDs("P1")
				if r.find(t, turnN).TraceID != tr {
					t.Error("turn key is not the promptId")
				}
			},
		},
		{
			name: "request shape: system instructions and tool definitions; redacted thinking",
			steps: []step{
				ln(js(obj{"type": "api-request-shape", "sessionId": sess, "shape": obj{
					"system": []any{obj{"type": "text", "text": "You are Claude Code."}},
					"tools":  []any{obj{"name": "Bash", "description": "Run a command", "input_schema": obj{"type": "object"}}}}})),
				ln(prompt("u1", 0, "hi", nil)),
				ln(asst("a1", 1, "m1", "end_turn", use(1, 2, 0, 0), obj{"type": "redacted_thinking", "data": "xyz"}, nil)),
				ln(asst("a2", 1, "m1", "end_turn", use(1, 2, 0, 0), text("ok"), nil)),
				ln(js(obj{"type": "last-prompt", "sessionId": sess})),
				want(chatN, turnN),
			},
			check: func(t *testing.T, r *run) {
				a := testkit.AttrMap(r.find(t, turnN))
				if a["gen_ai.system_instructions"] != `[{"type":"text","content":"You are Claude Code."}]` {
					t.Errorf("system_instructions %s", a["gen_ai.system_instructions"])
				}
				if a["gen_ai.tool.definitions"] != `[{"type":"function","name":"Bash","description":"Run a command","parameters":{"type":"object"}}]` {
					t.Errorf("tool.definitions %s", a["gen_ai.tool.definitions"])
				}
				c := testkit.AttrMap(r.find(t, chatN))
				if !strings.Contains(c["gen_ai.output.messages"], `{"type":"reasoning","content":"[redacted thinking]"}`) {
					t.Errorf("chat output %s", c["gen_ai.output.messages"])
				}
			},
		},
		{
			name: "final response and nothing after it: StopWait",
			steps: []step{
				ln(prompt("u1", 0, "hi", nil)),
				ln(asst("a1", 1, "m1", "end_turn", use(1, 2, 0, 0), text("Bye."), nil)),
				tk(1),
				tk(2.9),
				want(),
				tk(3),
				want(chatN, turnN),
			},
		},
		{
			name: "Stop hook matching the last answer",
			steps: []step{
				ln(prompt("u1", 0, "hi", nil)),
				ln(asst("a1", 1, "m1", "end_turn", use(1, 2, 0, 0), text("All good."), nil)),
				want(),
				hk(hookEv("Stop", 1.5, obj{"last_assistant_message": "All good."})),
				want(chatN, turnN),
			},
		},
		{
			name: "Stop hook before the transcript caught up",
			steps: []step{
				ln(prompt("u1", 0, "hi", nil)),
				ln(asst("a1", 1, "m1", "tool_use", use(1, 2, 0, 0), toolUse("t1", "Bash", obj{"command": "ls"}), nil)),
				ln(result("r1", 2, "t1", "a\nb", false, obj{"stdout": "a\nb"}, nil)),
				want("execute_tool Bash"),
				tk(2.5),
				hk(hookEv("Stop", 3, obj{"last_assistant_message": "Final."})),
				want(),
				ln(asst("a2", 2.9, "m2", "end_turn", use(1, 3, 0, 0), text("Final."), nil)),
				want(chatN, chatN, turnN),
			},
		},
		{
			name: "Stop hook, transcript never catches up: bounded wait",
			steps: []step{
				ln(prompt("u1", 0, "hi", nil)),
				ln(asst("a1", 1, "m1", nil, use(1, 2, 0, 0), text("Partial"), nil)),
				tk(1.2),
				hk(hookEv("Stop", 2, obj{"last_assistant_message": "Something else"})),
				tk(3.9),
				want(),
				tk(4.0),
				want(chatN, turnN),
			},
		},
		{
			name: "next prompt completes the previous turn",
			steps: []step{
				ln(prompt("u1", 0, "one", nil)),
				ln(asst("a1", 1, "m1", nil, use(1, 2, 0, 0), text("ok"), nil)),
				ln(sys("x1", 3, "local_command", obj{"content": "<local-command-stdout>x</local-command-stdout>"})),
				want(),
				ln(prompt("u2", 5, "two", nil)),
				want(chatN, turnN),
			},
			check: func(t *testing.T, r *run) {
				s := r.find(t, turnN)
				if s.End.Sub(s.Start).Seconds() != 1 {
					t.Errorf("turn lasts %s, want 1s (its last line)", s.End.Sub(s.Start))
				}
			},
		},
		{
			name: "idle timeout",
			steps: []step{
				ln(prompt("u1", 0, "hi", nil)),
				ln(asst("a1", 1, "m1", nil, use(1, 2, 0, 0), text("thinking aloud"), nil)),
				tk(2),
				tk(601),
				want(),
				tk(602),
				want(chatN, turnN),
			},
		},
		{
			name: "api error and StopFailure",
			steps: []step{
				ln(prompt("u1", 0, "hi", nil)),
				ln(sys("e1", 0.5, "api_error", obj{"error": obj{"status": 529, "error": obj{"type": "error", "error": obj{"type": "overloaded_error", "message": "Overloaded"}}}, "retryAttempt": 1})),
				ln(func() []byte {
					l := asst("a1", 1, "m1", "stop_sequence", use(0, 0, 0, 0), text("API Error: 529 Overloaded"), obj{"isApiErrorMessage": true})
					return []byte(replaceModel(string(l), "<synthetic>"))
				}()),
				hk(hookEv("StopFailure", 1.2, obj{"error": "overloaded", "last_assistant_message": "API Error: 529 Overloaded"})),
				want("chat", turnN),
			},
			check: func(t *testing.T, r *run) {
				s := r.find(t, turnN)
				a := testkit.AttrMap(s)
				if s.Status != genai.StatusError || a["error.type"] != "overloaded" {
					t.Errorf("turn status %v %q", s.Status, a["error.type"])
				}
				if len(s.Events) != 1 || s.Events[0].Name != "claude_code.api_error" {
					t.Errorf("events %+v", s.Events)
				}
				if c := r.find(t, "chat"); c.Status != genai.StatusError {
					t.Error("api error chat not an error")
				}
			},
		},
		{
			name: "interrupt cancels a pending tool",
			steps: []step{
				ln(prompt("u1", 0, "hi", nil)),
				ln(asst("a1", 1, "m1", nil, use(1, 2, 0, 0), toolUse("t1", "Bash", obj{"command": "sleep 100"}), nil)),
				ln(prompt("u2", 2, "", nil)[:0:0]), // empty line: skipped
				ln(func() []byte {
					m := env("user", "u3", 3, nil)
					m["message"] = obj{"role": "user", "content": []any{text("[Request interrupted by user]")}}
					return js(m)
				}()),
				want(chatN, "execute_tool Bash", turnN),
			},
			check: func(t *testing.T, r *run) {
				if s := r.find(t, turnN); s.Status != genai.StatusError || testkit.AttrMap(s)["error.type"] != "interrupted" {
					t.Errorf("turn %v %v", s.Status, testkit.AttrMap(s)["error.type"])
				}
				if s := r.find(t, "execute_tool Bash"); testkit.AttrMap(s)["error.type"] != "cancelled" {
					t.Errorf("tool %v", testkit.AttrMap(s)["error.type"])
				}
			},
		},
		{
			name: "turn closed by idle timeout keeps its ids; late children go under it",
			steps: []step{
				ln(prompt("u1", 0, "hi", obj{"promptId": "P1"})),
				ln(asst("a1", 1, "m1", "tool_use", use(1, 2, 0, 0), toolUse("t1", "Bash", obj{"command": "make"}), nil)),
				tk(1.5),
				tk(602),
				want(chatN, turnN),
				ln(result("r1", 700, "t1", "built", false, nil, obj{"promptId": "P1"})),
				want("execute_tool Bash"),
				ln(asst("a2", 701, "m2", "end_turn", use(1, 2, 0, 0), text("Built."), nil)),
				ln(sys("s1", 702, "stop_hook_summary", nil)),
				want(chatN),
				tk(2000),
				want(),
			},
			check: func(t *testing.T, r *run) {
				tr, turn := turnIDs("P1")
				for _, s := range r.spans {
					if s.TraceID != tr {
						t.Errorf("%s in trace %s", s.Name, s.TraceID)
					}
					if s.Name != turnN && s.ParentID != turn {
						t.Errorf("%s parent %s, want the turn", s.Name, s.ParentID)
					}
				}
			},
		},
		{
			name: "agent_progress copies are not counted",
			steps: []step{
				ln(prompt("u1", 0, "hi", nil)),
				ln(asst("a1", 1, "m1", "tool_use", use(10, 20, 0, 0), toolUse("tT", "Task", obj{"prompt": "sub work", "subagent_type": "Explore"}), nil)),
				ln(js(obj{"type": "progress", "uuid": "p1", "timestamp": at(2), "sessionId": sess, "parentToolUseID": "tT", "toolUseID": "agent_msg_x",
					"data": obj{"type": "agent_progress", "agentId": "nofile1", "prompt": "sub work",
						"message": obj{"type": "assistant", "message": obj{"id": "msg_sub", "model": "claude-test-1", "content": []any{text("x")}, "usage": use(1000, 1000, 1000, 1000)}}}})),
				ln(result("r1", 3, "tT", []any{text("sub result")}, false, obj{"status": "completed", "agentId": "nofile1"}, nil)),
				want("execute_tool Task"),
				ln(asst("a2", 4, "m2", "end_turn", use(10, 20, 0, 0), text("done"), nil)),
				want(chatN),
				ln(sys("s1", 5, "stop_hook_summary", nil)),
				want(chatN, turnN),
			},
			check: func(t *testing.T, r *run) {
				if u := testkit.SumUsage(r.spans, nil); u.Input != 20 || u.Output != 40 {
					t.Errorf("usage %d/%d", u.Input, u.Output)
				}
			},
		},
		{
			name: "resumed-session copy keeps the original session's ids",
			steps: []step{
				ln(func() []byte {
					m := env("user", "old1", 0, obj{"sessionId": "99999999-2222-3333-4444-555555555555"})
					m["message"] = obj{"role": "user", "content": "old prompt"}
					return js(m)
				}()),
				ln(prompt("u2", 5, "new prompt", nil)),
				want(turnN),
				tk(1), tk(1000),
				want(turnN),
			},
			check: func(t *testing.T, r *run) {
				old := genai.NewTraceID(genai.AgentClaudeCode, "99999999-2222-3333-4444-555555555555", "old1")
				if r.spans[0].TraceID != old || testkit.AttrMap(r.spans[0])["gen_ai.conversation.id"] != "99999999-2222-3333-4444-555555555555" {
					t.Error("copied turn not in the original session's trace")
				}
			},
		},
	}
	// A StopFailure hook and the API error line it follows reach the
	// builder in either order (a daemon restart, the inbox): the turn must
	// come out the same. Claude Code 2.1.328 sends error "unknown" for a 400.
	apiLine := ln(func() []byte {
		l := asst("a1", 1, "m1", "stop_sequence", use(0, 0, 0, 0), text("API Error: 400 bad"), obj{"isApiErrorMessage": true})
		return []byte(replaceModel(string(l), "<synthetic>"))
	}())
	for _, hookErr := range []struct{ sent, want string }{{"unknown", "api_error"}, {"rate_limit", "rate_limit"}} {
		stop := hk(hookEv("StopFailure", 1.2, obj{"error": hookErr.sent, "last_assistant_message": "API Error: 400 bad"}))
		check := func(t *testing.T, r *run) {
			s := r.find(t, turnN)
			if a := testkit.AttrMap(s); s.Status != genai.StatusError || a["error.type"] != hookErr.want || s.StatusMessage != "API Error: 400 bad" {
				t.Errorf("turn status %v %q %q, want error %s", s.Status, a["error.type"], s.StatusMessage, hookErr.want)
			}
		}
		cases = append(cases,
			completionCase{"API error line, then StopFailure " + hookErr.sent, []step{ln(prompt("u1", 0, "hi", nil)), apiLine, stop, want("chat", turnN)}, check},
			completionCase{"StopFailure " + hookErr.sent + ", then its API error line", []step{ln(prompt("u1", 0, "hi", nil)), stop, apiLine, want("chat", turnN)}, check})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRun(t, Options{})
			r.play(t, tc.steps)
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

func replaceModel(line, model string) string {
	const from = `"model":"claude-test-1"`
	for i := 0; i+len(from) <= len(line); i++ {
		if line[i:i+len(from)] == from {
			return line[:i] + `"model":"` + model + `"` + line[i+len(from):]
		}
	}
	return line
}
