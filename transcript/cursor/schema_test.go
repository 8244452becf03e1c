package cursor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/internal/testkit"
)

const schemaConv = "0d9c8b7a-6f5e-4d3c-9b2a-1f0e9d8c7b6a"

// schemaSteps turns testdata/schema files into hook steps one second apart.
func schemaSteps(t testing.TB, files ...string) []step {
	t.Helper()
	var steps []step
	for i, f := range files {
		b, err := os.ReadFile(filepath.Join("testdata", "schema", f+".json"))
		if err != nil {
			t.Fatal(err)
		}
		s := hookStep(base.Add(time.Duration(i+1)*time.Second), f, string(b))
		steps = append(steps, s)
	}
	return steps
}

type spanSet []genai.Span

func (ss spanSet) named(name string) []genai.Span {
	var out []genai.Span
	for _, s := range ss {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

func (ss spanSet) one(t *testing.T, name string) genai.Span {
	t.Helper()
	got := ss.named(name)
	if len(got) != 1 {
		var names []string
		for _, s := range ss {
			names = append(names, s.Name)
		}
		t.Fatalf("want one %q span, got %d (spans: %v)", name, len(got), names)
	}
	return got[0]
}

func wantAttr(t *testing.T, s genai.Span, k, want string) {
	t.Helper()
	if got := testkit.AttrMap(s)[k]; got != want {
		t.Errorf("%s: %s = %q, want %q", s.Name, k, got, want)
	}
}

func TestSchemaShapes(t *testing.T) {
	at := func(sec int) time.Time { return base.Add(time.Duration(sec) * time.Second) }
	cases := []struct {
		name  string
		files []string
		spans int
		check func(t *testing.T, ss spanSet)
	}{
		{"prompt and permission events", []string{"beforeSubmitPrompt", "preToolUse", "beforeShellExecution", "beforeMCPExecution", "beforeReadFile", "stop"}, 1,
			func(t *testing.T, ss spanSet) {
				turn := ss.one(t, "invoke_agent cursor")
				wantAttr(t, turn, "gen_ai.request.model", "claude-opus-4-7")
				wantAttr(t, turn, "cursor.model", "claude-opus-4-7-thinking-max")
				wantAttr(t, turn, "gen_ai.provider.name", "anthropic")
				wantAttr(t, turn, "cursor.model_params", `["thinking=true","context=1m","effort=max"]`)
				wantAttr(t, turn, "cursor.attachments", `["/Users/dev/project/package.json","rule:/Users/dev/project/.cursor/rules/testing.mdc"]`)
				wantAttr(t, turn, "gen_ai.input.messages", `[{"role":"user","parts":[{"type":"text","content":"Install the dependencies and run the tests"}]}]`)
				wantAttr(t, turn, "cursor.stop.status", "completed")
				wantAttr(t, turn, "cursor.generation_id", "4e5f6071-8293-4a4b-9c5d-6e7f80912a3b")
				if !turn.Start.Equal(at(1)) || !turn.End.Equal(at(6)) || turn.Status != genai.StatusUnset {
					t.Errorf("turn %v..%v status %v", turn.Start, turn.End, turn.Status)
				}
				if r := resMap(turn); r["service.version"] != "2026.09.15-0a1b2c3" || r["cursor.workspace_roots"] != `["/Users/dev/project"]` || r["user.email"] != "" {
					t.Errorf("resource %v", r)
				}
			}},
		{"postToolUse", []string{"beforeSubmitPrompt", "postToolUse", "stop"}, 2,
			func(t *testing.T, ss spanSet) {
				tool := ss.one(t, "execute_tool Shell")
				turn := ss.one(t, "invoke_agent cursor")
				wantAttr(t, tool, "gen_ai.tool.call.id", "abc123")
				wantAttr(t, tool, "gen_ai.tool.type", "function")
				wantAttr(t, tool, "gen_ai.tool.call.arguments", `{"command":"npm test"}`)
				wantAttr(t, tool, "gen_ai.tool.call.result", `{"exitCode":0,"stdout":"All tests passed"}`)
				wantAttr(t, tool, "gen_ai.provider.name", "anthropic")
				if tool.ParentID != turn.SpanID || tool.TraceID != turn.TraceID {
					t.Error("tool span not under the turn")
				}
				if !tool.End.Equal(at(2)) || tool.End.Sub(tool.Start) != 5432*time.Millisecond {
					t.Errorf("tool %v..%v", tool.Start, tool.End)
				}
				if !turn.Start.Equal(tool.Start) || !tool.Start.Before(at(1)) {
					t.Errorf("turn starts %v: want its tool's start %v (before the prompt hook)", turn.Start, tool.Start)
				}
				if turn.TraceID != genai.NewTraceID("cursor", schemaConv, "4e5f6071-8293-4a4b-9c5d-6e7f80912a3b") {
					t.Error("trace id is not derived from the generation id")
				}
			}},
		{"failure timeout", []string{"beforeSubmitPrompt", "postToolUseFailure-timeout", "stop"}, 2,
			func(t *testing.T, ss spanSet) {
				tool := ss.one(t, "execute_tool Shell")
				wantAttr(t, tool, "error.type", "timeout")
				wantAttr(t, tool, "gen_ai.tool.call.result", "Command timed out after 30s")
				if tool.Status != genai.StatusError || tool.StatusMessage != "Command timed out after 30s" {
					t.Errorf("status %v %q", tool.Status, tool.StatusMessage)
				}
				if turn := ss.one(t, "invoke_agent cursor"); turn.Status != genai.StatusUnset {
					t.Error("a failed tool does not fail the turn")
				}
				// The tool started 30 s before it was reported, before the prompt hook.
				if turn := ss.one(t, "invoke_agent cursor"); !turn.Start.Equal(tool.Start) {
					t.Errorf("turn start %v, want its earliest child %v", turn.Start, tool.Start)
				}
			}},
		{"failure permission denied", []string{"beforeSubmitPrompt", "postToolUseFailure-permission", "stop"}, 2,
			func(t *testing.T, ss spanSet) {
				tool := ss.one(t, "execute_tool Delete")
				wantAttr(t, tool, "error.type", "permission_denied")
				if !tool.Start.Equal(tool.End) {
					t.Error("zero duration expected")
				}
			}},
		{"subagent start, stop, Task tool", []string{"beforeSubmitPrompt", "subagentStart", "subagentStop", "postToolUse-Task", "stop"}, 3,
			func(t *testing.T, ss spanSet) {
				sub := ss.one(t, "invoke_agent generalPurpose")
				task := ss.one(t, "execute_tool Task")
				if sub.ParentID != task.SpanID {
					t.Error("subagent not under its Task tool span")
				}
				wantAttr(t, sub, "gen_ai.agent.id", "abc-123")
				wantAttr(t, sub, "gen_ai.agent.name", "generalPurpose")
				wantAttr(t, sub, "gen_ai.request.model", "claude-sonnet-4-20250514")
				wantAttr(t, sub, "gen_ai.agent.description", "Exploring auth flow")
				wantAttr(t, sub, "cursor.subagent.modified_files", `["src/auth.ts"]`)
				wantAttr(t, sub, "cursor.subagent.message_count", "12")
				wantAttr(t, sub, "cursor.subagent.git_branch", "feature/auth")
				wantAttr(t, sub, "gen_ai.output.messages", `[{"role":"assistant","parts":[{"type":"text","content":"Auth uses JWT middleware in src/auth.ts"}],"finish_reason":"stop"}]`)
				if !sub.Start.Equal(at(2)) || !sub.End.Equal(at(3)) {
					t.Errorf("subagent %v..%v: want subagentStart..subagentStop", sub.Start, sub.End)
				}
			}},
		{"subagent error without Task tool", []string{"beforeSubmitPrompt", "subagentStop-error", "stop"}, 2,
			func(t *testing.T, ss spanSet) {
				sub := ss.one(t, "invoke_agent shell")
				turn := ss.one(t, "invoke_agent cursor")
				if sub.ParentID != turn.SpanID {
					t.Error("subagent without a Task tool hangs under the turn")
				}
				if sub.Status != genai.StatusError || testkit.AttrMap(sub)["error.type"] != "error" {
					t.Errorf("status %v %v", sub.Status, testkit.AttrMap(sub)["error.type"])
				}
				if sub.End.Sub(sub.Start) != 1200*time.Millisecond {
					t.Errorf("duration %v", sub.End.Sub(sub.Start))
				}
			}},
		{"afterShellExecution alone", []string{"beforeSubmitPrompt", "afterShellExecution", "stop"}, 2,
			func(t *testing.T, ss spanSet) {
				tool := ss.one(t, "execute_tool Shell")
				wantAttr(t, tool, "cursor.tool.source", "afterShellExecution")
				wantAttr(t, tool, "cursor.shell.sandbox", "true")
				wantAttr(t, tool, "gen_ai.tool.call.arguments", `{"command":"npm run lint"}`)
				wantAttr(t, tool, "gen_ai.tool.call.result", "0 problems\n")
			}},
		{"afterMCPExecution alone", []string{"beforeSubmitPrompt", "afterMCPExecution", "stop"}, 2,
			func(t *testing.T, ss spanSet) {
				tool := ss.one(t, "execute_tool MCP:query_db")
				wantAttr(t, tool, "gen_ai.tool.type", "extension")
				wantAttr(t, tool, "gen_ai.tool.call.arguments", `{"sql":"select count(*) from users"}`)
				wantAttr(t, tool, "gen_ai.tool.call.result", `{"rows":[[42]]}`)
			}},
		{"afterFileEdit, preCompact, thought, response", []string{"beforeSubmitPrompt", "afterAgentThought", "afterFileEdit", "preCompact", "afterAgentResponse", "stop"}, 1,
			func(t *testing.T, ss spanSet) {
				turn := ss.one(t, "invoke_agent cursor")
				wantAttr(t, turn, "gen_ai.output.messages", `[{"role":"assistant","parts":[{"type":"reasoning","content":"I should run the tests before answering."},{"type":"text","content":"All tests pass now."}],"finish_reason":"stop"}]`)
				wantAttr(t, turn, "cursor.compactions", "1")
				var names []string
				for _, e := range turn.Events {
					names = append(names, e.Name)
				}
				if strings.Join(names, ",") != "cursor.agent_thought,cursor.file_edit,cursor.compaction,cursor.agent_response" {
					t.Errorf("events %v", names)
				}
				ev := map[string]string{}
				for _, e := range turn.Events {
					for _, kv := range e.Attrs {
						ev[string(kv.Key)] = kv.Value.String()
					}
				}
				for k, v := range map[string]string{"cursor.file_edit.count": "2", "code.file.path": "/Users/dev/project/src/app.ts",
					"cursor.compaction.trigger": "manual", "cursor.compaction.context_tokens": "120000",
					"cursor.compaction.is_first_compaction": "false", "cursor.thought.duration_ms": "5000"} {
					if ev[k] != v {
						t.Errorf("event attribute %s = %q, want %q", k, ev[k], v)
					}
				}
			}},
		{"stop error", []string{"beforeSubmitPrompt", "stop-error"}, 1,
			func(t *testing.T, ss spanSet) {
				turn := ss.one(t, "invoke_agent cursor")
				if turn.Status != genai.StatusError || testkit.AttrMap(turn)["error.type"] != "error" {
					t.Errorf("status %v %v", turn.Status, testkit.AttrMap(turn)["error.type"])
				}
				wantAttr(t, turn, "cursor.stop.loop_count", "2")
			}},
		{"stop aborted", []string{"beforeSubmitPrompt", "stop-aborted"}, 1,
			func(t *testing.T, ss spanSet) {
				turn := ss.one(t, "invoke_agent cursor")
				if turn.Status != genai.StatusError || testkit.AttrMap(turn)["error.type"] != "interrupted" || turn.StatusMessage != "aborted" {
					t.Errorf("status %v %v %q", turn.Status, testkit.AttrMap(turn)["error.type"], turn.StatusMessage)
				}
			}},
		{"IDE session start and error end", []string{"sessionStart-ide", "beforeSubmitPrompt", "sessionEnd-error"}, 1,
			func(t *testing.T, ss spanSet) {
				turn := ss.one(t, "invoke_agent cursor")
				r := resMap(turn)
				if r["cursor.composer_mode"] != "ask" || r["cursor.is_background_agent"] != "false" {
					t.Errorf("resource %v", r) // sessionEnd says false, the latest word
				}
				if turn.Status != genai.StatusError || turn.StatusMessage != "Model provider unavailable" {
					t.Errorf("status %v %q", turn.Status, turn.StatusMessage)
				}
				wantAttr(t, turn, "cursor.turn.end_reason", "session_end")
				if len(turn.Events) != 1 || turn.Events[0].Name != "cursor.session_end" || !turn.Events[0].Time.Equal(at(3)) {
					t.Errorf("events %+v", turn.Events)
				}
			}},
		{"workspaceOpen", []string{"workspaceOpen"}, 0, nil},
		{"claude-imported", []string{"claude-imported-sessionStart", "claude-imported-postToolUse"}, 2,
			func(t *testing.T, ss spanSet) {
				tool := ss.one(t, "execute_tool Shell")
				turn := ss.one(t, "invoke_agent cursor")
				wantAttr(t, tool, "gen_ai.tool.call.id", "abc123")
				if resMap(tool)["service.version"] != "2026.08.11-e8db854" {
					t.Errorf("resource %v", resMap(tool))
				}
				wantAttr(t, turn, "cursor.turn.end_reason", "idle")
				wantAttr(t, turn, "gen_ai.provider.name", "x_ai")
			}},
		{"feb 2026 tool id with newline", []string{"feb2026-postToolUse"}, 2,
			func(t *testing.T, ss spanSet) {
				tool := ss.one(t, "execute_tool Write")
				turn := ss.one(t, "invoke_agent cursor")
				wantAttr(t, tool, "gen_ai.tool.call.id", "call_Qx1\nctc_Zy2")
				wantAttr(t, turn, "gen_ai.provider.name", "openai")
				wantAttr(t, turn, "gen_ai.request.model", "gpt-5.2-codex-xhigh-fast")
				if !turn.Start.Equal(tool.Start) {
					t.Error("a turn opened by a tool event starts with the tool")
				}
			}},
		{"BOM and CRLF", []string{"beforeSubmitPrompt", "bom-afterAgentResponse", "stop"}, 1,
			func(t *testing.T, ss spanSet) {
				wantAttr(t, ss.one(t, "invoke_agent cursor"), "gen_ai.output.messages", `[{"role":"assistant","parts":[{"type":"text","content":"Done."}],"finish_reason":"stop"}]`)
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spans := runSteps(t, schemaConv, Options{}, schemaSteps(t, tc.files...), false)
			testkit.CheckNoDuplicates(t, spans)
			checkInvariants(t, schemaConv, spans)
			if len(spans) != tc.spans {
				t.Fatalf("%d spans, want %d:\n%s", len(spans), tc.spans, renderTree(tc.name, spans))
			}
			if tc.check != nil {
				tc.check(t, spanSet(spans))
			}
		})
	}
}

func TestProvider(t *testing.T) {
	for model, want := range map[string]string{
		"claude-opus-4-7": "anthropic", "claude-4.5-sonnet-thinking": "anthropic", "sonnet-4": "anthropic",
		"gpt-5.2-codex-xhigh-fast": "openai", "gpt-5": "openai", "o3": "openai", "codex-mini": "openai",
		"gemini-3-pro": "gcp.gemini", "cursor-grok-4.6-high-fast": "x_ai", "grok-code-fast-1": "x_ai",
		"deepseek-v3.1": "deepseek", "default": "cursor", "auto": "cursor", "composer-1": "cursor", "": "cursor",
		"kimi-k2": "cursor",
	} {
		if got := providerOf(model); got != want {
			t.Errorf("providerOf(%q) = %q, want %q", model, got, want)
		}
	}
}

func TestCaptureUserEmail(t *testing.T) {
	steps := schemaSteps(t, "beforeSubmitPrompt", "stop")
	for _, capture := range []bool{false, true} {
		spans := runSteps(t, schemaConv, Options{CaptureUserEmail: capture}, steps, false)
		if len(spans) != 1 {
			t.Fatalf("%d spans", len(spans))
		}
		got := resMap(spans[0])["user.email"]
		if want := map[bool]string{true: "dev@example.com"}[capture]; got != want {
			t.Errorf("capture=%v: user.email = %q", capture, got)
		}
		for k := range testkit.AttrMap(spans[0]) {
			if strings.Contains(k, "email") {
				t.Errorf("email in span attributes: %s", k)
			}
		}
	}
}
