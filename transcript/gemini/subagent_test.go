package gemini

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/internal/testkit"
)

// The subagent capture (testdata/subagent, Gemini CLI 0.61.0 against the
// e2e stand-in API): the prompt "delegate" makes the model call
// invoke_agent {agent_name: generalist}; the subagent runs `echo sub`, then
// complete_task; the parent answers "parent done". Usage per model call:
// parent 100+3 and 200+4, subagent 300+5 and 400+6.
const (
	subSession = "1f54bddb-e9f8-4e5b-80b7-ddf78eff87ab"
	subAgentID = "17c5e4be-9821-428d-800d-785ec336023b"
	subToolID  = "invoke_agent__invoke_agent_1796495041732_0"
)

func subagentChat(t *testing.T) string {
	t.Helper()
	return filepath.Join("testdata", "subagent", "chats", "session-2026-12-05T18-24-1f54bddb.jsonl")
}

func feedChat(t *testing.T, chat string, opts Options) []genai.Span {
	t.Helper()
	opts.TranscriptPath = chat
	b := New(subSession, opts)
	for _, l := range testkit.ReadLines(t, chat) {
		b.Line(chat, l)
	}
	settle(b)
	return b.Take()
}

// TestSubagentNested: the subagent's chat file
// (chats/<session>/<agentId>.jsonl) makes an invoke_agent span under the
// launching tool call's span, with its chat and tool spans inside and its
// usage counted once.
func TestSubagentNested(t *testing.T) {
	spans := feedChat(t, subagentChat(t), Options{})
	byName := map[string][]genai.Span{}
	seen := map[genai.SpanID]bool{}
	for _, s := range spans {
		if seen[s.SpanID] {
			t.Errorf("span %s emitted twice", s.Name)
		}
		seen[s.SpanID] = true
		byName[s.Name] = append(byName[s.Name], s)
		if a := testkit.AttrMap(s); a["gen_ai.conversation.id"] != subSession || a["gen_ai.conversation.name"] != "delegate" {
			t.Errorf("%s: names %v", s.Name, a)
		}
	}
	if len(byName["invoke_agent generalist"]) != 1 || len(byName["execute_tool invoke_agent"]) != 1 {
		t.Fatalf("spans:\n%s", renderTree("subagent", spans))
	}
	tool, sub := byName["execute_tool invoke_agent"][0], byName["invoke_agent generalist"][0]
	a := testkit.AttrMap(sub)
	if sub.ParentID != tool.SpanID || sub.TraceID != tool.TraceID {
		t.Errorf("subagent span not under its tool call: parent %s, tool %s", sub.ParentID, tool.SpanID)
	}
	if a["gen_ai.agent.id"] != subAgentID || a["gen_ai.tool.call.id"] != subToolID || a["gen_ai.agent.name"] != "generalist" ||
		a["gen_ai.operation.name"] != "invoke_agent" || a["gen_ai.request.model"] != "gemini-2.5-flash" {
		t.Errorf("subagent attrs %v", a)
	}
	if !strings.Contains(a["gen_ai.input.messages"], "do the sub task") || !strings.Contains(a["gen_ai.output.messages"], "sub result") {
		t.Errorf("subagent messages in %q out %q", a["gen_ai.input.messages"], a["gen_ai.output.messages"])
	}
	if a["gemini_cli.subagent.termination_reason"] != "GOAL" || sub.Status == genai.StatusError {
		t.Errorf("subagent status %v %v", sub.Status, a)
	}
	inner := 0
	for _, s := range spans {
		if s.ParentID != sub.SpanID {
			continue
		}
		inner++
		if testkit.AttrMap(s)["gen_ai.agent.name"] != "generalist" {
			t.Errorf("%s inside the subagent: agent %q", s.Name, testkit.AttrMap(s)["gen_ai.agent.name"])
		}
		if s.Start.Before(sub.Start) || s.End.After(sub.End) {
			t.Errorf("%s [%v, %v] outside its subagent [%v, %v]", s.Name, s.Start, s.End, sub.Start, sub.End)
		}
	}
	// chat, execute_tool run_shell_command, chat, execute_tool complete_task
	if inner != 4 || len(byName["execute_tool run_shell_command"]) != 1 || len(byName["execute_tool complete_task"]) != 1 {
		t.Errorf("%d spans inside the subagent:\n%s", inner, renderTree("subagent", spans))
	}
	if u := testkit.SumUsage(spans, nil); u.Input != 100+200+300+400 || u.Output != 3+4+5+6 {
		t.Errorf("usage in %d out %d, want 1000 and 18 (every model call once)", u.Input, u.Output)
	}
	if len(spans) != 9 { // turn, 2 chats, invoke_agent tool; subagent and its 4
		t.Errorf("%d spans:\n%s", len(spans), renderTree("subagent", spans))
	}
}

// TestSubagentLive: every line fed twice, the state saved and restored
// after each, make the same spans, once.
func TestSubagentLive(t *testing.T) {
	chat := subagentChat(t)
	want := len(feedChat(t, chat, Options{}))
	b := New(subSession, Options{TranscriptPath: chat})
	var spans []genai.Span
	for _, l := range testkit.ReadLines(t, chat) {
		for range 2 {
			b.Line(chat, l)
			spans = append(spans, b.Take()...)
			data, err := b.MarshalState()
			if err != nil {
				t.Fatal(err)
			}
			b = New(subSession, Options{TranscriptPath: chat})
			if err := b.RestoreState(data); err != nil {
				t.Fatal(err)
			}
		}
	}
	settle(b)
	spans = append(spans, b.Take()...)
	seen := map[genai.SpanID]bool{}
	for _, s := range spans {
		if seen[s.SpanID] {
			t.Errorf("span %s emitted twice", s.Name)
		}
		seen[s.SpanID] = true
	}
	if len(spans) != want {
		t.Errorf("%d spans, want %d:\n%s", len(spans), want, renderTree("live", spans))
	}
}

// TestSubagentFileTrouble: a missing subagent file leaves the tool call
// span alone; a FIFO in its place does not block; the lines read are
// redacted; an agentId with path characters stays in the session's folder.
func TestSubagentFileTrouble(t *testing.T) {
	src := testkit.ReadLines(t, subagentChat(t))
	subLines, err := os.ReadFile(filepath.Join("testdata", "subagent", "chats", subSession, subAgentID+".jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	setup := func(t *testing.T, sub func(path string)) string {
		dir := filepath.Join(t.TempDir(), "tmp", "project", "chats")
		if err := os.MkdirAll(filepath.Join(dir, subSession), 0o755); err != nil {
			t.Fatal(err)
		}
		chat := filepath.Join(dir, "session-2026-12-05T18-24-1f54bddb.jsonl")
		if err := os.WriteFile(chat, append(bytes.Join(src, []byte("\n")), '\n'), 0o600); err != nil {
			t.Fatal(err)
		}
		if sub != nil {
			sub(filepath.Join(dir, subSession, subAgentID+".jsonl"))
		}
		return chat
	}
	count := func(spans []genai.Span, name string) int {
		n := 0
		for _, s := range spans {
			if s.Name == name {
				n++
			}
		}
		return n
	}
	t.Run("missing", func(t *testing.T) {
		spans := feedChat(t, setup(t, nil), Options{})
		if count(spans, "execute_tool invoke_agent") != 1 || count(spans, "invoke_agent generalist") != 0 || len(spans) != 4 {
			t.Errorf("spans:\n%s", renderTree("missing", spans))
		}
	})
	t.Run("fifo", func(t *testing.T) {
		chat := setup(t, func(p string) {
			if err := syscall.Mkfifo(p, 0o600); err != nil {
				t.Fatal(err)
			}
		})
		if spans := feedChat(t, chat, Options{}); count(spans, "invoke_agent generalist") != 0 {
			t.Errorf("a FIFO made a subagent:\n%s", renderTree("fifo", spans))
		}
	})
	t.Run("redacted", func(t *testing.T) {
		chat := setup(t, func(p string) {
			if err := os.WriteFile(p, subLines, 0o600); err != nil {
				t.Fatal(err)
			}
		})
		redact := func(b []byte) []byte { return bytes.ReplaceAll(b, []byte("echo sub"), []byte("echo [REDACTED]")) }
		spans := feedChat(t, chat, Options{Redact: redact})
		found := false
		for _, s := range spans {
			if s.Name == "execute_tool run_shell_command" {
				found = true
				if args := testkit.AttrMap(s)["gen_ai.tool.call.arguments"]; !strings.Contains(args, "[REDACTED]") {
					t.Errorf("subagent tool arguments not redacted: %s", args)
				}
			}
		}
		if !found {
			t.Errorf("no subagent tool span:\n%s", renderTree("redacted", spans))
		}
	})
	t.Run("path in agentId", func(t *testing.T) {
		b := New("../x", Options{TranscriptPath: "/home/dev/.gemini/tmp/p/chats/session-a.jsonl"})
		if got := b.subagentPath("../../../etc/passwd"); got != "/home/dev/.gemini/tmp/p/chats/___x/_________etc_passwd.jsonl" {
			t.Errorf("subagent path %s", got)
		}
	})
}
