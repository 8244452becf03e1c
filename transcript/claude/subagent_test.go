package claude

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/internal/testkit"
)

func agentEnv(id string) obj { return obj{"isSidechain": true, "agentId": id} }

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A background subagent (2.1.3xx layout with .meta.json): the turn ends
// before it; its span is still a child of the Agent tool span.
func TestBackgroundSubagent(t *testing.T) {
	r := newRun(t, Options{})
	subFile := filepath.Join(sess, "subagents", "agent-abc.jsonl")
	writeFile(t, filepath.Join(r.dir, subFile), "")
	writeFile(t, filepath.Join(r.dir, sess, "subagents", "agent-abc.meta.json"),
		`{"agentType":"Explore","description":"find X","toolUseId":"toolu_A","spawnDepth":1}`)
	ae := agentEnv("abc")
	r.play(t, []step{
		ln(prompt("u1", 0, "look for X", obj{"promptId": "P1"})),
		ln(asst("a1", 1, "m1", "tool_use", use(1, 10, 0, 0), toolUse("toolu_A", "Agent",
			obj{"prompt": "Find X", "description": "find X", "subagent_type": "Explore", "run_in_background": true}), nil)),
		hk(hookEv("SubagentStart", 1.1, obj{"agent_id": "abc", "agent_type": "Explore"})),
		ln(result("r1", 1.2, "toolu_A", "Async agent launched", false, obj{"status": "async_launched", "agentId": "abc"}, obj{"promptId": "P1"})),
		want("execute_tool Agent"),
		ln(asst("a2", 2, "m2", "end_turn", use(1, 5, 0, 0), text("Started it."), nil)),
		want(chatN),
		ln(js(obj{"type": "last-prompt", "leafUuid": "a2", "sessionId": sess})),
		want(chatN, turnN),
		sub(subFile, prompt("s1", 1.3, "Find X", ae)),
		sub(subFile, asst("s2", 3, "sm1", "tool_use", use(100, 7, 0, 0), toolUse("toolu_B", "Grep", obj{"pattern": "X"}), ae)),
		sub(subFile, result("s3", 4, "toolu_B", "x.go", false, nil, ae)),
		want("execute_tool Grep"),
		sub(subFile, asst("s4", 5, "sm2", "end_turn", use(200, 9, 0, 0), text("Found X."), ae)),
		want(chatN),
		hk(hookEv("SubagentStop", 5.5, obj{"agent_id": "abc", "agent_type": "Explore", "last_assistant_message": "Found X.",
			"agent_transcript_path": filepath.Join(r.dir, subFile)})),
		want(chatN, "invoke_agent Explore"),
	})
	files := r.b.Files()
	if len(files) != 2 || files[1] != filepath.Join(r.dir, subFile) {
		t.Errorf("Files() = %v", files)
	}
	tr, turn := turnIDs("P1")
	tool := genai.NewSpanID(tr, genai.KindTool, "toolu_A")
	ag := r.find(t, "invoke_agent Explore")
	if ag.TraceID != tr || ag.ParentID != tool || ag.SpanID != genai.NewSpanID(tr, genai.KindSubagent, "abc") {
		t.Errorf("subagent ids %s %s <- %s", ag.TraceID, ag.SpanID, ag.ParentID)
	}
	a := testkit.AttrMap(ag)
	if a["gen_ai.agent.id"] != "abc" || a["gen_ai.agent.description"] != "find X" || a["claude_code.subagent.background"] != "true" ||
		a["gen_ai.tool.call.id"] != "toolu_A" || a["gen_ai.agent.name"] != "Explore" || hasUsage(ag) {
		t.Errorf("subagent attrs %v", a)
	}
	underAgent := func(s genai.Span) bool { return s.ParentID == ag.SpanID }
	if u := testkit.SumUsage(r.spans, underAgent); u.Input != 300 || u.Output != 16 {
		t.Errorf("subagent chats usage %d/%d, want 300/16", u.Input, u.Output)
	}
	if g := r.byID(t, "toolu_B"); g.ParentID != ag.SpanID {
		t.Error("subagent tool not under the subagent")
	}
	if c := r.byID(t, "sm2"); c.ParentID != ag.SpanID {
		t.Error("subagent chat not under the subagent")
	}
	if tu := r.find(t, turnN); tu.SpanID != turn || hasUsage(tu) {
		t.Errorf("turn span %v: usage belongs on chat spans only", testkit.AttrMap(tu))
	}
	if u := testkit.SumUsage(r.spans, inTrace(tr)); u.Input != 302 {
		t.Errorf("usage over the trace %d, want 302 (the turn's 2 and the background agent's 300)", u.Input)
	}
}

// A foreground Task subagent in the 2.0.x flat layout, its file read only
// after the parent's result named it (backfill order): the turn waits for
// it and counts its usage.
func TestFlatLayoutForegroundSubagent(t *testing.T) {
	r := newRun(t, Options{})
	subFile := "agent-7f3a2b1.jsonl"
	writeFile(t, filepath.Join(r.dir, subFile), "")
	ae := agentEnv("7f3a2b1")
	r.play(t, []step{
		ln(prompt("u1", 0, "do Y", nil)),
		ln(asst("a1", 1, "m1", nil, use(1, 10, 0, 0), toolUse("toolu_T", "Task", obj{"prompt": "Do Y", "subagent_type": "general-purpose", "description": "y"}), nil)),
		ln(result("r1", 10, "toolu_T", []any{text("Y done.")}, false, obj{"status": "completed", "agentId": "7f3a2b1", "totalDurationMs": 9000}, nil)),
		want("execute_tool Task"),
		ln(asst("a2", 11, "m3", nil, use(1, 5, 0, 0), text("Y is done"), nil)),
		want(chatN),
		ln(sys("s1", 11.1, "stop_hook_summary", nil)),
		want(chatN),
		sub(subFile, prompt("s1", 1.1, "Do Y", ae)),
		sub(subFile, asst("s2", 9, "sm1", nil, use(50, 3, 0, 0), text("Y done."), ae)),
		want(chatN, "invoke_agent general-purpose", turnN),
	})
	if files := r.b.Files(); len(files) != 2 || files[1] != filepath.Join(r.dir, subFile) {
		t.Errorf("Files() = %v", files)
	}
	if tu := r.find(t, turnN); hasUsage(tu) {
		t.Errorf("usage on the turn span: %v", testkit.AttrMap(tu))
	}
	if u := testkit.SumUsage(r.spans, nil); u.Input != 52 || u.Output != 18 {
		t.Errorf("usage over the spans in=%d out=%d, want the subagent included", u.Input, u.Output)
	}
	ag := r.find(t, "invoke_agent general-purpose")
	if ag.Start != t0.Add(1100*1e6) || ag.End != t0.Add(9e9) {
		t.Errorf("subagent %s..%s", ag.Start, ag.End)
	}
}

// Hooks name the transcript; ClaudeHome finds it when nothing does.
func TestTranscriptDiscovery(t *testing.T) {
	home := t.TempDir()
	main := filepath.Join(home, "projects", "-tmp-x", sess+".jsonl")
	writeFile(t, main, "")
	writeFile(t, filepath.Join(home, "projects", "-tmp-x", sess, "subagents", "agent-acompact-1a2b3c.jsonl"), "")

	b := New(sess, Options{ClaudeHome: home})
	if fs := b.Files(); len(fs) != 2 || fs[0] != main {
		t.Errorf("ClaudeHome discovery: %v", fs)
	}
	b = New(sess, Options{})
	if len(b.Files()) != 0 {
		t.Errorf("files before any hook: %v", b.Files())
	}
	b.Hook(hookEv("SessionStart", 0, obj{"transcript_path": main, "source": "startup"}))
	if fs := b.Files(); len(fs) != 2 || fs[0] != main {
		t.Errorf("after SessionStart: %v", fs)
	}
}

// 2.0.x "Warmup" sidechains (started at launch, announced by SubagentStop)
// are not traced.
func TestWarmupAgentIgnored(t *testing.T) {
	r := newRun(t, Options{})
	subFile := "agent-w1.jsonl"
	writeFile(t, filepath.Join(r.dir, subFile), "")
	ae := agentEnv("w1")
	r.play(t, []step{
		hk(hookEv("SubagentStop", 0.5, obj{"agent_id": "w1", "agent_transcript_path": filepath.Join(r.dir, subFile)})),
		sub(subFile, prompt("w1u", 0, "Warmup", ae)),
		sub(subFile, asst("w1a", 0.4, "wm1", "end_turn", use(5, 5, 0, 0), text("Ready."), ae)),
		tk(1), tk(40), tk(4000),
		want(),
		ln(prompt("u1", 5000, "hello", nil)),
		ln(asst("a1", 5001, "m1", "end_turn", use(1, 1, 0, 0), text("hi"), nil)),
		ln(js(obj{"type": "last-prompt", "sessionId": sess})),
		want(chatN, turnN),
	})
}

// A subagent's .meta.json is read by the builder itself, not through the
// daemon's masking of transcript lines: Options.Redact masks it before its
// description reaches the state persisted while the turn is open.
func TestSubagentMetaIsRedactedBeforeTheState(t *testing.T) {
	const secret = "AKIAQWERTYUIOPASDFGH"
	dir := t.TempDir()
	file := filepath.Join(dir, "agent-abc.jsonl")
	writeFile(t, strings.TrimSuffix(file, ".jsonl")+".meta.json",
		`{"agentType":"general-purpose","description":"deploy with \u0041KIAQWERTYUIOPASDFGH","toolUseId":"toolu_A"}`)
	b := New(sess, Options{Redact: func(b []byte) []byte {
		return bytes.ReplaceAll(bytes.ReplaceAll(b, []byte(`\u0041`), []byte("A")), []byte(secret), []byte("[REDACTED]"))
	}})
	a := b.newAgent("abc", file)
	b.readMeta(a, strings.TrimSuffix(file, ".jsonl")+".meta.json")
	st, err := b.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	if a.Desc != "deploy with [REDACTED]" || bytes.Contains(st, []byte(secret)) {
		t.Fatalf("description %q; state %s", a.Desc, st)
	}
}
