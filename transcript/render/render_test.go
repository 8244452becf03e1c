package render

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/weave-agentd/weave-agentd/genai"
)

var t0 = time.Date(2026, 11, 22, 9, 30, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

func msgs(role string, parts ...genai.Part) string {
	kv := genai.MessagesAttr("x", []genai.Message{{Role: role, Parts: parts}})
	return kv.Value.AsString()
}

// conversation builds a small Claude-Code-shaped conversation by hand:
// a turn with a model call asking for two tools (one failing, one starting
// a subagent), a compaction and an API error on the turn, and an
// interrupted second turn.
func conversation() []genai.Span {
	tr := genai.NewTraceID("claude-code", "s1", "p1")
	turn := genai.NewSpanID(tr, genai.KindTurn, "turn")
	chat1 := genai.NewSpanID(tr, genai.KindChat, "m1")
	toolA := genai.NewSpanID(tr, genai.KindTool, "ta")
	toolB := genai.NewSpanID(tr, genai.KindTool, "tb")
	sub := genai.NewSpanID(tr, genai.KindSubagent, "ag1")
	subChat := genai.NewSpanID(tr, genai.KindChat, "m2")
	chat2 := genai.NewSpanID(tr, genai.KindChat, "m3")
	var long []string
	for i := 1; i <= 20; i++ {
		long = append(long, fmt.Sprintf("line %d", i))
	}
	usage := func(in, out, cr, cw int64) []attribute.KeyValue {
		return []attribute.KeyValue{
			attribute.Int64("gen_ai.usage.input_tokens", in), attribute.Int64("gen_ai.usage.output_tokens", out),
			attribute.Int64("gen_ai.usage.cache_read.input_tokens", cr), attribute.Int64("gen_ai.usage.cache_creation.input_tokens", cw),
		}
	}
	res := []attribute.KeyValue{attribute.String("service.name", "claude-code"), attribute.String("service.version", "2.1.400")}
	spans := []genai.Span{
		{TraceID: tr, SpanID: chat1, ParentID: turn, Name: "chat m", Start: at(100), End: at(900), Attrs: append([]attribute.KeyValue{
			attribute.String("gen_ai.operation.name", "chat"), attribute.String("gen_ai.request.model", "claude-x"),
			attribute.String("gen_ai.output.messages", msgs("assistant",
				genai.Part{Type: "reasoning", Content: "think\nharder"},
				genai.Part{Type: "text", Content: "Looking."},
				genai.Part{Type: "tool_call", ID: "tb", Name: "Task"},
				genai.Part{Type: "tool_call", ID: "ta", Name: "Bash"},
				genai.Part{Type: "tool_call", ID: "lost", Name: "Read", Arguments: []byte(`{"file_path":"/etc/hosts"}`)})),
		}, usage(1000, 50, 800, 100)...)},
		{TraceID: tr, SpanID: toolA, ParentID: turn, Name: "execute_tool Bash", Start: at(1000), End: at(1500), Status: genai.StatusError, StatusMessage: "Exit code 1", Attrs: []attribute.KeyValue{
			attribute.String("gen_ai.operation.name", "execute_tool"), attribute.String("gen_ai.tool.name", "Bash"), attribute.String("gen_ai.tool.call.id", "ta"),
			attribute.String("gen_ai.tool.call.arguments", `{"command":"make test","description":"run the tests","timeout":60000}`),
			attribute.String("gen_ai.tool.call.result", "Exit code 1\n\x1b[31mFAIL\x1b[0m "+strings.Join(long, "\n")),
			attribute.String("error.type", "tool_error"),
		}},
		{TraceID: tr, SpanID: toolB, ParentID: turn, Name: "execute_tool Task", Start: at(1000), End: at(3000), Attrs: []attribute.KeyValue{
			attribute.String("gen_ai.operation.name", "execute_tool"), attribute.String("gen_ai.tool.name", "Task"), attribute.String("gen_ai.tool.call.id", "tb"),
			attribute.String("gen_ai.tool.call.arguments", `{"description":"Find the bug","prompt":"Look for it","subagent_type":"Explore"}`),
			attribute.String("gen_ai.tool.call.result", "Found it in main.go\nline two\nline three"),
		}},
		{TraceID: tr, SpanID: sub, ParentID: toolB, Name: "invoke_agent Explore", Start: at(1100), End: at(2900), Attrs: append([]attribute.KeyValue{
			attribute.String("gen_ai.operation.name", "invoke_agent"), attribute.String("gen_ai.agent.name", "Explore"), attribute.String("gen_ai.agent.id", "ag1"),
			attribute.String("gen_ai.input.messages", msgs("user", genai.Part{Type: "text", Content: "Look for it"})),
		}, usage(300, 20, 0, 0)...)},
		{TraceID: tr, SpanID: subChat, ParentID: sub, Name: "chat m", Start: at(1200), End: at(2800), Attrs: append([]attribute.KeyValue{
			attribute.String("gen_ai.operation.name", "chat"),
			attribute.String("gen_ai.output.messages", msgs("assistant", genai.Part{Type: "text", Content: "Found it in main.go"})),
		}, usage(300, 20, 0, 0)...)},
		{TraceID: tr, SpanID: chat2, ParentID: turn, Name: "chat m", Start: at(3100), End: at(3500), Attrs: append([]attribute.KeyValue{
			attribute.String("gen_ai.operation.name", "chat"),
			attribute.String("gen_ai.output.messages", msgs("assistant", genai.Part{Type: "text", Content: "Fixed."})),
		}, usage(1200, 30, 1000, 0)...)},
		{TraceID: tr, SpanID: turn, Name: "invoke_agent claude-code", Start: at(0), End: at(3600), Resource: res, Attrs: append([]attribute.KeyValue{
			attribute.String("gen_ai.operation.name", "invoke_agent"), attribute.String("gen_ai.agent.name", "claude-code"),
			attribute.String("gen_ai.conversation.id", "s1"), attribute.String("gen_ai.request.model", "claude-x"),
			attribute.String("claude_code.cwd", "/home/me/app"), attribute.String("claude_code.git_branch", "main"),
			attribute.String("gen_ai.input.messages", msgs("user", genai.Part{Type: "text", Content: "fix the bug"})),
			attribute.String("gen_ai.output.messages", msgs("assistant", genai.Part{Type: "text", Content: "Fixed."})),
		}, usage(2500, 100, 1800, 100)...), Events: []genai.Event{
			{Name: "claude_code.api_error", Time: at(50), Attrs: []attribute.KeyValue{attribute.Int("http.response.status_code", 529), attribute.String("error.type", "overloaded_error"), attribute.Int("claude_code.retry_attempt", 1)}},
			{Name: "claude_code.compaction", Time: at(3050), Attrs: []attribute.KeyValue{attribute.String("claude_code.compaction.trigger", "auto"),
				attribute.Int64("claude_code.compaction.pre_tokens", 150000), attribute.Int64("claude_code.compaction.post_tokens", 12000),
				attribute.String("claude_code.compaction.summary", "The user asked to fix a bug.")}},
			{Name: "something.else", Time: at(3060)},
		}},
	}
	tr2 := genai.NewTraceID("claude-code", "s1", "p2")
	spans = append(spans, genai.Span{TraceID: tr2, SpanID: genai.NewSpanID(tr2, genai.KindTurn, "turn"), Name: "invoke_agent claude-code",
		Start: t0.Add(26 * time.Hour), End: t0.Add(26*time.Hour + 2*time.Second), Status: genai.StatusError, StatusMessage: "interrupted by user",
		Attrs: []attribute.KeyValue{
			attribute.String("gen_ai.operation.name", "invoke_agent"), attribute.String("gen_ai.agent.name", "claude-code"),
			attribute.String("gen_ai.input.messages", msgs("user", genai.Part{Type: "text", Content: "<command-name>/review</command-name>\n<command-args>main.go</command-args>"})),
			attribute.String("error.type", "interrupted"),
		}})
	return spans
}

func renderString(t *testing.T, spans []genai.Span, o Options) string {
	t.Helper()
	if o.Location == nil {
		o.Location = time.UTC
	}
	var buf bytes.Buffer
	if err := Conversation(&buf, spans, o); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestConversationShape(t *testing.T) {
	got := renderString(t, conversation(), Options{})
	t.Log("\n" + got)
	wantInOrder := []string{
		"claude-code 2.1.400 · session s1",
		"project  /home/me/app (main)",
		"started  2026-11-22 09:30:00 UTC · lasted 26h00m",
		"activity 2 turns · 3 model calls · 2 tool calls (1 failed) · 1 subagent",
		"tokens   2,500 in (1,800 cache read, 100 cache write) · 100 out",
		"── Turn 1 · 2026-11-22 09:30:00 · 3.6s · claude-x ──",
		"❯ fix the bug",
		"✗ API error 529 overloaded_error (attempt 1)",
		"✻ think",
		"● Looking.",
		// The tools in the order the model asked for them, right after it.
		"● Task(Find the bug) · 2.0s",
		"  ▸ Explore subagent · ag1 · 1.8s · 300 in · 20 out",
		"  │ ❯ Look for it",
		"  │ ● Found it in main.go",
		"  ⎿ Found it in main.go",
		"    … (2 more lines)",
		"✗ Bash(make test) · 500ms · failed",
		"  description: run the tests",
		"  timeout: 60000",
		"  ⎿ Exit code 1",
		"    FAIL line 1",
		"    … (15 more lines)",
		"● Read(/etc/hosts) · no result recorded",
		"⟳ compacted (auto) · 150,000 → 12,000 tokens",
		"  ⎿ The user asked to fix a bug.",
		"● Fixed.",
		"  ↳ 2,500 in (1,800 cache read, 100 cache write) · 100 out · 3 model calls · 2 tool calls · 3.6s",
		"── Turn 2 · 2026-11-23 11:30:00 · 2.0s ──",
		"❯ /review main.go",
		"✗ interrupted: interrupted by user",
	}
	pos := 0
	for _, w := range wantInOrder {
		i := strings.Index(got[pos:], w)
		if i < 0 {
			t.Fatalf("missing (in order) %q after byte %d", w, pos)
		}
		pos += i + len(w)
	}
	for _, bad := range []string{"\x1b", "something.else", "● Fixed.\n● Fixed."} {
		if strings.Contains(got, bad) {
			t.Errorf("output contains %q", bad)
		}
	}
	if strings.Count(got, "Fixed.") != 1 {
		t.Errorf("the answer is printed %d times, want once", strings.Count(got, "Fixed."))
	}
}

func TestConversationFull(t *testing.T) {
	got := renderString(t, conversation(), Options{Full: true})
	if strings.Contains(got, "more line") {
		t.Errorf("--full folded something:\n%s", got)
	}
	if !strings.Contains(got, "    line 20\n") {
		t.Errorf("--full lost the end of a result")
	}
}

func TestConversationColor(t *testing.T) {
	got := renderString(t, conversation(), Options{Color: true})
	if !strings.Contains(got, "\x1b[31m✗ \x1b[0m") {
		t.Errorf("errors are not red")
	}
	// Only SGR sequences: the red FAIL from the tool result is gone.
	for _, seq := range strings.Split(got, "\x1b[")[1:] {
		end := strings.IndexByte(seq, 'm')
		if end < 0 || strings.Trim(seq[:end], "0123456789;") != "" {
			t.Fatalf("non-SGR escape %q", seq[:min(len(seq), 10)])
		}
	}
	if strings.Contains(got, "FAIL\x1b[0m line") {
		t.Errorf("an escape sequence from the transcript reached the output")
	}
}

// A Cursor-shaped turn: no model calls and no usage; the answer is on the
// turn; tools are its children.
func TestCursorShape(t *testing.T) {
	tr := genai.NewTraceID("cursor", "c1", "g1")
	turn := genai.NewSpanID(tr, genai.KindTurn, "turn")
	spans := []genai.Span{
		{TraceID: tr, SpanID: turn, Name: "invoke_agent cursor", Start: at(0), End: at(5000), Attrs: []attribute.KeyValue{
			attribute.String("gen_ai.operation.name", "invoke_agent"), attribute.String("gen_ai.agent.name", "cursor"),
			attribute.String("gen_ai.conversation.id", "c1"), attribute.String("gen_ai.request.model", "default"),
			attribute.String("gen_ai.input.messages", msgs("user", genai.Part{Type: "text", Content: "<timestamp>Monday</timestamp>\n<user_query>\nbuild it\n</user_query>"})),
			attribute.String("gen_ai.output.messages", msgs("assistant", genai.Part{Type: "reasoning", Content: "plan"}, genai.Part{Type: "text", Content: "Built."})),
		}},
		{TraceID: tr, SpanID: genai.NewSpanID(tr, genai.KindTool, "t1"), ParentID: turn, Name: "execute_tool Shell", Start: at(1000), End: at(1134), Attrs: []attribute.KeyValue{
			attribute.String("gen_ai.operation.name", "execute_tool"), attribute.String("gen_ai.tool.name", "Shell"),
			attribute.String("gen_ai.tool.call.arguments", `{"command":"go build ./...","cwd":"/work"}`),
			attribute.String("gen_ai.tool.call.result", `{"output":"","exitCode":0}`),
		}},
	}
	got := renderString(t, spans, Options{})
	t.Log("\n" + got)
	for _, w := range []string{"cursor · session c1", "activity 1 turn · 1 tool call", "❯ build it", "● Shell(go build ./...) · 134ms", "  cwd: /work", "✻ plan", "● Built.", "  ↳ 1 tool call · 5.0s"} {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q", w)
		}
	}
	if strings.Contains(got, "tokens") || strings.Contains(got, " in ·") {
		t.Errorf("tokens shown for an agent without usage")
	}
}

func TestOrphansAndEmpty(t *testing.T) {
	if got := renderString(t, nil, Options{}); !strings.Contains(got, "no turns") {
		t.Errorf("empty conversation: %q", got)
	}
	tr := genai.NewTraceID("claude-code", "s", "agent:x")
	got := renderString(t, []genai.Span{{TraceID: tr, SpanID: genai.NewSpanID(tr, genai.KindSubagent, "x"), Name: "invoke_agent general-purpose",
		Start: at(0), End: at(10), Attrs: []attribute.KeyValue{attribute.String("gen_ai.operation.name", "invoke_agent"),
			attribute.String("gen_ai.agent.name", "general-purpose"), attribute.String("gen_ai.agent.id", "x"),
			attribute.String("gen_ai.output.messages", msgs("assistant", genai.Part{Type: "text", Content: "done"}))}}}, Options{})
	if !strings.Contains(got, "Subagent general-purpose (not linked to a turn)") || !strings.Contains(got, "● done") {
		t.Errorf("orphan subagent:\n%s", got)
	}
}

func TestFold(t *testing.T) {
	p := &printer{o: Options{FoldLines: 3, MaxLineRunes: 10}}
	p.o.defaults()
	for _, c := range []struct {
		in        string
		max, more int
		first     string
	}{
		{"a\nb\nc\nd\ne", 3, 2, "a"},
		{"a\nb\nc\nd", 3, 0, "a"}, // folding one line saves nothing
		{"\n\n  x\t y \r\n\n", 3, 0, "  x     y"},
		{strings.Repeat("é", 60), 3, 0, strings.Repeat("é", 10) + " … (+50 chars)"},
		{strings.Repeat("é", 45), 3, 0, strings.Repeat("é", 45)},
	} {
		lines, more := p.fold(c.in, c.max)
		if more != c.more || len(lines) == 0 || lines[0] != c.first {
			t.Errorf("fold(%q, %d) = %q, %d; want first %q, more %d", c.in, c.max, lines, more, c.first, c.more)
		}
	}
}

func TestStripControls(t *testing.T) {
	for in, want := range map[string]string{
		"plain\ttext\n":                        "plain\ttext\n",
		"\x1b[1;31mred\x1b[0m":                 "red",
		"\x1b]8;;http://x\x07link\x1b]8;;\x07": "link",
		"\x1b]0;title\x1b\\after":              "after",
		"a\rb":                                 "a\nb",
		"a\r\nb":                               "a\nb",
		"bell\x07 nul\x00 c1\u009b":            "bell nul c1",
	} {
		if got := stripControls(in); got != want {
			t.Errorf("stripControls(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFormatting(t *testing.T) {
	for d, want := range map[time.Duration]string{
		850 * time.Millisecond: "850ms", 4200 * time.Millisecond: "4.2s", 42 * time.Second: "42s",
		185 * time.Second: "3m05s", 62 * time.Minute: "1h02m", 50 * time.Hour: "2d02h",
	} {
		if got := fmtDur(d); got != want {
			t.Errorf("fmtDur(%v) = %q, want %q", d, got, want)
		}
	}
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -4500: "-4,500"} {
		if got := fmtInt(n); got != want {
			t.Errorf("fmtInt(%d) = %q, want %q", n, got, want)
		}
	}
	if got := displayToolName("mcp__linear-server__get_issue"); got != "linear-server:get_issue" {
		t.Errorf("displayToolName = %q", got)
	}
	fs := objectFields(`{"z":1,"a":"x\ny","m":{"k":[1, 2]}}`)
	if len(fs) != 3 || fs[0].key != "z" || fs[1].text != "x\ny" || fs[2].text != `{"k":[1,2]}` {
		t.Errorf("objectFields = %+v", fs)
	}
	if objectFields(`[1]`) != nil || objectFields(`not json`) != nil {
		t.Errorf("objectFields of a non-object")
	}
	for _, c := range []struct{ tool, args, key, val string }{
		{"Bash", `{"description":"d","command":"ls"}`, "command", "ls"},
		{"Grep", `{"path":"src","pattern":"TODO"}`, "pattern", "TODO"},
		{"Task", `{"prompt":"long","description":"short"}`, "description", "short"},
		{"Glob", `{"path":"/x","pattern":"*.go"}`, "pattern", "*.go"},
		{"Other", `{"n":3}`, "", ""},
	} {
		k, v := mainArg(c.tool, objectFields(c.args))
		if k != c.key || v != c.val {
			t.Errorf("mainArg(%s, %s) = %q %q, want %q %q", c.tool, c.args, k, v, c.key, c.val)
		}
	}
	for in, want := range map[string]string{
		"<command-message>x</command-message>\n<command-name>/compact</command-name>\n<command-args></command-args>": "/compact",
		"<command-name>review</command-name><command-args> a b </command-args>":                                      "/review a b",
		"<timestamp>Mon</timestamp>\n<user_query>\nhi\n</user_query>":                                                "hi",
		"<local-command-stdout>Compacted</local-command-stdout>":                                                     "Compacted",
		"just text": "just text",
	} {
		if got := promptText(in); got != want {
			t.Errorf("promptText(%q) = %q, want %q", in, got, want)
		}
	}
	n, ok := taskNotification("<task-notification>\n<status>completed</status>\n<summary>Agent done</summary>\n<result>42</result>\n</task-notification>\nRead it.")
	if !ok || n.head != "task notification (completed): Agent done" || n.result != "42" || n.rest != "Read it." {
		t.Errorf("taskNotification = %+v, %v", n, ok)
	}
}
