package cursor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/internal/testkit"
)

func partsString(parts []genai.Part) string {
	var out []string
	for _, p := range parts {
		out = append(out, p.Type+":"+strings.TrimSpace(p.Content))
	}
	return strings.Join(out, " | ")
}

func toolsString(tools []txTool) string {
	var out []string
	for _, c := range tools {
		out = append(out, c.Name+string(c.Input))
	}
	return strings.Join(out, " | ")
}

func TestParseJSONL(t *testing.T) {
	path := filepath.Join("testdata", "transcripts", "session.jsonl")
	b := New("conv", Options{TranscriptPath: path})
	for _, l := range testkit.ReadLines(t, path) {
		b.Line(path, l)
	}
	if st := b.Stats(); st.Lines != 12 || st.SkippedLines != 1 {
		t.Errorf("stats %+v", st)
	}
	type want struct{ prompt, parts, tools, status string }
	wants := []want{
		{"fix the test", "text:Editing. | text:Tests pass.",
			`Write{"path":"/tmp/cursor-probe/notes.md","contents":"line 1\n"} | Shell{"command":"npm test","description":"run","working_directory":"/tmp/cursor-probe"}`, "success"},
		{"now deploy", "", `Shell{"command":"npm run deploy","description":"deploy"}`, "aborted"},
		{"", "text:Continuing.", "", ""},
	}
	turns := b.st.Tx.Turns
	if len(turns) != len(wants) {
		t.Fatalf("%d transcript turns, want %d", len(turns), len(wants))
	}
	for i, w := range wants {
		x := turns[i]
		if x.Prompt != w.prompt || partsString(x.Parts) != w.parts || toolsString(x.Tools) != w.tools || x.Status != w.status {
			t.Errorf("turn %d: %q / %q / %q / %q", i, x.Prompt, partsString(x.Parts), toolsString(x.Tools), x.Status)
		}
	}
	if turns[1].Error != "User aborted request" || !turns[0].Ended || !turns[1].Ended || turns[2].Ended {
		t.Errorf("ends: %+v %+v %+v", turns[0], turns[1], turns[2])
	}
}

func TestParseTxt(t *testing.T) {
	path := filepath.Join("testdata", "transcripts", "session.txt")
	b := New("conv", Options{TranscriptPath: path})
	for _, l := range testkit.ReadLines(t, path) {
		b.Line(path, l)
	}
	turns := b.st.Tx.Turns
	if len(turns) != 2 || b.Stats().SkippedLines != 0 {
		t.Fatalf("%d turns, stats %+v", len(turns), b.Stats())
	}
	x := turns[0]
	if x.Prompt != "fix the test" || !x.Ended {
		t.Errorf("prompt %q ended %v", x.Prompt, x.Ended)
	}
	if got := partsString(x.Parts); got != "reasoning:The test fails because of a typo.\nIt is in notes.md. | text:Editing the file. | text:The file is fixed. | text:Tests pass." {
		t.Errorf("parts %q", got)
	}
	if got := toolsString(x.Tools); got != `Write{"path":"/tmp/cursor-probe/notes.md","contents":"line 1"} | Shell{"command":"npm test","description":"run"}` {
		t.Errorf("tools %q", got)
	}
	if turns[1].Prompt != "thanks" || partsString(turns[1].Parts) != "text:You're welcome." || turns[1].Ended {
		t.Errorf("turn 2 %+v", turns[1])
	}
}

// TestHeadlessTxtFill: a headless run (no prompt hook, the shell command
// only seen by afterShellExecution) takes its prompt, answer and the
// command's full input from an old .txt transcript.
func TestHeadlessTxtFill(t *testing.T) {
	const conv = "11111111-2222-4333-8444-555555555555"
	path := filepath.Join("testdata", "transcripts", "session.txt")
	common := fmt.Sprintf(`"conversation_id":%q,"generation_id":%q,"model":"default","cursor_version":"2026.01.20-aaaaaaa","workspace_roots":["/tmp/cursor-probe"],"transcript_path":%q`, conv, conv, path)
	steps := []step{
		hookStep(base, "1", `{"hook_event_name":"sessionStart","session_id":"`+conv+`",`+common+`}`),
		hookStep(base.Add(5*time.Second), "2", `{"hook_event_name":"afterShellExecution","command":"npm test","output":"ok\n","duration":800,"sandbox":false,`+common+`}`),
	}
	lines := testkit.ReadLines(t, path)
	for _, l := range lines[:26] { // the first turn, up to "Tests pass."
		steps = append(steps, step{Kind: "line", At: base.Add(6 * time.Second), Path: path, Line: l})
	}
	steps = append(steps,
		hookStep(base.Add(9*time.Second), "3", `{"hook_event_name":"sessionEnd","reason":"completed","final_status":"completed","duration_ms":9000,`+common+`}`),
		step{Kind: "tick", At: base.Add(10 * time.Second)},
		step{Kind: "tick", At: base.Add(11 * time.Second)},
	)
	b := New(conv, Options{})
	for _, s := range steps {
		apply(b, s)
	}
	if got := b.Take(); len(got) != 0 {
		t.Fatalf("emitted before the transcript wait: %s", names(got))
	}
	b.Tick(base.Add(12 * time.Second)) // TranscriptWait (2 s) after the first tick that saw it done
	spans := spanSet(b.Take())
	if len(spans) != 2 {
		t.Fatalf("spans: %s", names(spans))
	}
	turn := spans.one(t, "invoke_agent cursor")
	wantAttr(t, turn, "gen_ai.input.messages", `[{"role":"user","parts":[{"type":"text","content":"fix the test"}]}]`)
	wantAttr(t, turn, "gen_ai.output.messages", `[{"role":"assistant","parts":[{"type":"reasoning","content":"The test fails because of a typo.\nIt is in notes.md."},{"type":"text","content":"Editing the file."},{"type":"text","content":"The file is fixed."},{"type":"text","content":"Tests pass."}],"finish_reason":"stop"}]`)
	if !turn.Start.Equal(base) || !turn.End.Equal(base.Add(9*time.Second)) {
		t.Errorf("turn %v..%v: times come from sessionStart/sessionEnd", turn.Start, turn.End)
	}
	shell := spans.one(t, "execute_tool Shell")
	wantAttr(t, shell, "gen_ai.tool.call.arguments", `{"command":"npm test","description":"run"}`)
	// The rest of the transcript arrives late: nothing is sent again.
	for _, l := range lines[26:] {
		b.Line(path, l)
	}
	settle(b, base)
	if got := b.Take(); len(got) != 0 {
		t.Errorf("late lines emitted %s", names(got))
	}
}

// TestHistoricalTranscriptTurns: a transcript read from the start holds
// turns from before the daemon ran; hook turns match theirs by prompt and
// the old ones are dropped as orphans, never emitted.
func TestHistoricalTranscriptTurns(t *testing.T) {
	const conv = "c0c0c0c0-0000-4000-8000-000000000000"
	tp := "/x/agent-transcripts/" + conv + ".jsonl"
	user := func(q string) []byte {
		return []byte(`{"role":"user","message":{"content":[{"type":"text","text":"<user_query>\n` + q + `\n</user_query>"}]}}`)
	}
	answer := func(a string) []byte {
		return []byte(`{"role":"assistant","message":{"content":[{"type":"text","text":"` + a + `"}]}}`)
	}
	ended := []byte(`{"type":"turn_ended","status":"success"}`)
	b := New(conv, Options{TranscriptPath: tp})
	for _, l := range [][]byte{user("old one"), answer("a1"), ended, user("old two"), answer("a2"), ended, user("the new prompt"), answer("the new answer"), ended} {
		b.Line(tp, l)
	}
	common := fmt.Sprintf(`"conversation_id":%q,"generation_id":"gen-3","model":"gpt-5"`, conv)
	apply(b, hookStep(base, "1", `{"hook_event_name":"beforeSubmitPrompt","prompt":"the new prompt",`+common+`}`))
	apply(b, hookStep(base.Add(time.Second), "2", `{"hook_event_name":"stop","status":"completed",`+common+`}`))
	if len(b.Take()) != 0 {
		t.Fatal("a turn goes out from Tick only")
	}
	b.Tick(base.Add(2 * time.Second))                      // sees it finished
	b.Tick(base.Add(2*time.Second + 500*time.Millisecond)) // settleQuiet later: the transcript is there
	spans := spanSet(b.Take())
	if len(spans) != 1 {
		t.Fatalf("spans %s", names(spans))
	}
	wantAttr(t, spans[0], "gen_ai.output.messages", `[{"role":"assistant","parts":[{"type":"text","content":"the new answer"}],"finish_reason":"stop"}]`)
	if b.st.Orphans != 2 {
		t.Errorf("orphans %d, want 2", b.st.Orphans)
	}
	if n := len(b.st.Tx.Turns); n != 1 {
		t.Errorf("%d transcript turns kept, want only the newest", n)
	}
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{
		"/Users/me/dp-2.0":       "Users-me-dp-2-0",
		"/private/work":          "private-work",
		"/home/a b/ü_x//y/":      "home-a-b-x-y",
		"C:\\Users\\me\\project": "C-Users-me-project",
	} {
		if got := slug(in); got != want {
			t.Errorf("slug(%q) = %q, want %q", in, got, want)
		}
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDiscoverLayouts(t *testing.T) {
	const id = "9f8e7d6c-5b4a-4321-8fed-cba987654321"
	layouts := map[string]string{
		"nested": filepath.Join("projects", "Users-dev-shop", "agent-transcripts", id, id+".jsonl"),
		"flat":   filepath.Join("projects", "Users-dev-shop", "agent-transcripts", id+".jsonl"),
		"txt":    filepath.Join("projects", "Users-dev-shop", "agent-transcripts", id+".txt"),
		"other":  filepath.Join("projects", "123456789", "agent-transcripts", id, id+".jsonl"),
	}
	for name, rel := range layouts {
		t.Run(name, func(t *testing.T) {
			home := t.TempDir()
			writeFile(t, filepath.Join(home, rel), "")
			writeFile(t, filepath.Join(home, "projects", "Users-dev-shop", "agent-transcripts", "someone-else.jsonl"), "")
			b := New(id, Options{CursorHome: home})
			if got := b.Files(); len(got) != 1 || got[0] != filepath.Join(home, rel) {
				t.Errorf("Files() = %v", got)
			}
		})
	}
	t.Run("newest layout first", func(t *testing.T) {
		home := t.TempDir()
		for _, l := range []string{"txt", "flat", "nested"} {
			writeFile(t, filepath.Join(home, layouts[l]), "")
		}
		if got := New(id, Options{CursorHome: home}).Files(); len(got) != 1 || got[0] != filepath.Join(home, layouts["nested"]) {
			t.Errorf("Files() = %v", got)
		}
	})
	t.Run("appears later", func(t *testing.T) {
		home := t.TempDir()
		b := New(id, Options{CursorHome: home})
		if len(b.Files()) != 0 {
			t.Fatal("nothing to find yet")
		}
		writeFile(t, filepath.Join(home, layouts["nested"]), "")
		// A hook naming the workspace finds it in the workspace's project dir.
		apply(b, hookStep(base, "1", `{"hook_event_name":"afterAgentResponse","conversation_id":"`+id+`","generation_id":"g","workspace_roots":["/Users/dev/shop"],"text":"hi","transcript_path":null}`))
		if got := b.Files(); len(got) != 1 || got[0] != filepath.Join(home, layouts["nested"]) {
			t.Errorf("after a hook with workspace_roots: %v", got)
		}
		b2 := New(id, Options{CursorHome: home + "-none"})
		b2.opts.CursorHome = home
		b2.Tick(base)
		if got := b2.Files(); len(got) != 1 {
			t.Errorf("after a tick: %v", got)
		}
	})
	t.Run("hook path wins over an unread discovered one", func(t *testing.T) {
		home := t.TempDir()
		writeFile(t, filepath.Join(home, layouts["txt"]), "")
		b := New(id, Options{CursorHome: home})
		apply(b, hookStep(base, "1", `{"hook_event_name":"afterAgentResponse","conversation_id":"`+id+`","generation_id":"g","text":"hi","transcript_path":"/elsewhere/`+id+`.jsonl"}`))
		if got := b.Files(); len(got) != 1 || got[0] != "/elsewhere/"+id+".jsonl" {
			t.Errorf("Files() = %v", got)
		}
	})
	t.Run("unsafe id", func(t *testing.T) {
		home := t.TempDir()
		writeFile(t, filepath.Join(home, "projects", "p", "agent-transcripts", "x.jsonl"), "")
		if got := New("../agent-transcripts/x", Options{CursorHome: home}).Files(); len(got) != 0 {
			t.Errorf("Files() = %v", got)
		}
	})
}

func TestMalformedLines(t *testing.T) {
	b := New("conv", Options{TranscriptPath: "/t/conv.jsonl"})
	for _, l := range []string{"not json", "{", "[1,2]", `"str"`, `{"role":5}`, "", `{"role":"assistant","message":{"content":5}}`,
		`{"role":"assistant","message":{"content":[5,"x",{"type":"tool_use","name":"Shell","input":"not an object"}]}}`, `{"type":"turn_ended","status":7}`} {
		b.Line("/t/conv.jsonl", []byte(l))
	}
	if st := b.Stats(); st.Lines != 9 || st.SkippedLines != 6 {
		t.Errorf("stats %+v", st)
	}
	// Lines of another file (a subagent transcript) are not parsed.
	b.Line("/t/subagents/x.jsonl", []byte(`{"role":"user","message":{"content":"<user_query>q</user_query>"}}`))
	if n := len(b.st.Tx.Turns); n != 1 {
		t.Errorf("%d transcript turns", n)
	}
}

// TestIdleAndLateEvents: a turn without stop closes after IdleTimeout of
// daemon time; a late tool event of its generation still lands in its trace
// and the turn span is not sent again.
func TestIdleAndLateEvents(t *testing.T) {
	const conv = "conv-idle"
	common := `"conversation_id":"conv-idle","generation_id":"gen-1","model":"gpt-5","transcript_path":null`
	b := New(conv, Options{IdleTimeout: time.Minute})
	apply(b, hookStep(base, "1", `{"hook_event_name":"beforeSubmitPrompt","prompt":"go",`+common+`}`))
	apply(b, hookStep(base.Add(time.Second), "2", `{"hook_event_name":"postToolUse","tool_name":"Read","tool_use_id":"t1","duration":5,`+common+`}`))
	b.Tick(base.Add(2 * time.Second))
	first := b.Take()
	b.Tick(base.Add(61 * time.Second))
	if got := b.Take(); len(got) != 0 {
		t.Fatalf("closed before IdleTimeout: %s", names(got))
	}
	b.Tick(base.Add(62 * time.Second))
	b.Tick(base.Add(63 * time.Second))
	turn := spanSet(b.Take()).one(t, "invoke_agent cursor")
	wantAttr(t, turn, "cursor.turn.end_reason", "idle")
	if !turn.End.Equal(base.Add(time.Second)) {
		t.Errorf("an idle turn ends at its last event, not at the tick: %v", turn.End)
	}
	if !b.Idle() {
		t.Error("not idle after the turn was sent")
	}
	apply(b, hookStep(base.Add(90*time.Second), "3", `{"hook_event_name":"postToolUse","tool_name":"Grep","tool_use_id":"t2","duration":5,`+common+`}`))
	late := spanSet(b.Take()).one(t, "execute_tool Grep")
	if late.TraceID != turn.TraceID || late.ParentID != turn.SpanID {
		t.Error("late tool not in the idle-closed turn's trace")
	}
	settle(b, base.Add(90*time.Second))
	if got := b.Take(); len(got) != 0 {
		t.Errorf("turn sent again: %s", names(got))
	}
	testkit.CheckNoDuplicates(t, append(first, turn, late))
}

// TestGenerations: a new generation_id closes the previous turn; in
// headless runs (generation = conversation) turns are told apart by ordinal.
func TestGenerations(t *testing.T) {
	const conv = "conv-gen"
	ev := func(i int, gen, body string) step {
		return hookStep(base.Add(time.Duration(i)*time.Second), fmt.Sprint(i),
			`{"conversation_id":"conv-gen","generation_id":"`+gen+`","model":"default",`+body+`}`)
	}
	steps := []step{
		ev(1, "g1", `"hook_event_name":"beforeSubmitPrompt","prompt":"one"`),
		ev(2, "g1", `"hook_event_name":"afterAgentResponse","text":"r1"`),
		ev(3, "g2", `"hook_event_name":"beforeSubmitPrompt","prompt":"two"`),
		ev(4, "g2", `"hook_event_name":"stop","status":"completed"`),
		// Headless: generation = conversation, no prompt hooks.
		ev(10, "conv-gen", `"hook_event_name":"sessionStart","session_id":"conv-gen"`),
		ev(12, "conv-gen", `"hook_event_name":"postToolUse","tool_name":"Read","tool_use_id":"r1","duration":500`),
		ev(13, "conv-gen", `"hook_event_name":"sessionEnd","reason":"completed","final_status":"completed","duration_ms":3000`),
		// A tool event that raced past sessionEnd but happened before it.
		{Kind: "hook", At: base.Add(13*time.Second + time.Millisecond), ID: "13b",
			Payload: []byte(`{"conversation_id":"conv-gen","generation_id":"conv-gen","hook_event_name":"postToolUse","tool_name":"Grep","tool_use_id":"r2","duration":400}`)},
		ev(20, "conv-gen", `"hook_event_name":"sessionStart","session_id":"conv-gen"`),
		ev(22, "conv-gen", `"hook_event_name":"postToolUse","tool_name":"Read","tool_use_id":"r3","duration":500`),
		ev(23, "conv-gen", `"hook_event_name":"sessionEnd","reason":"completed","final_status":"completed","duration_ms":3000`),
	}
	spans := spanSet(runSteps(t, conv, Options{}, steps, false))
	testkit.CheckNoDuplicates(t, spans)
	turns := spans.named("invoke_agent cursor")
	if len(turns) != 4 {
		t.Fatalf("%d turns:\n%s", len(turns), renderTree("generations", spans))
	}
	byKey := map[genai.TraceID]genai.Span{}
	for _, s := range turns {
		byKey[s.TraceID] = s
	}
	for key, reason := range map[string]string{"g1": "next_generation", "g2": "stop", "conv-gen#3": "session_end", "conv-gen#4": "session_end"} {
		s, ok := byKey[genai.NewTraceID("cursor", conv, key)]
		if !ok {
			t.Errorf("no turn with key %q", key)
			continue
		}
		wantAttr(t, s, "cursor.turn.end_reason", reason)
	}
	g1 := byKey[genai.NewTraceID("cursor", conv, "g1")]
	if !g1.End.Equal(base.Add(2 * time.Second)) {
		t.Errorf("g1 ends %v, want its last event", g1.End)
	}
	grep := spans.one(t, "execute_tool Grep")
	if grep.TraceID != genai.NewTraceID("cursor", conv, "conv-gen#3") {
		t.Error("the raced tool event went to another turn")
	}
	h3 := byKey[genai.NewTraceID("cursor", conv, "conv-gen#3")]
	if !h3.Start.Equal(base.Add(10*time.Second)) || !h3.End.Equal(base.Add(13*time.Second+time.Millisecond)) {
		t.Errorf("headless turn %v..%v: sessionStart..its last child (the raced Grep)", h3.Start, h3.End)
	}
}

func TestStateRoundTrip(t *testing.T) {
	steps := loadScript(t, "ide-session.script.jsonl")
	b := New("7b3e2a10-4c1d-4e8f-9a55-2f6d1c0e9b42", Options{})
	for i, s := range steps {
		apply(b, s)
		st, err := b.MarshalState()
		if err != nil {
			t.Fatal(err)
		}
		b2 := New("7b3e2a10-4c1d-4e8f-9a55-2f6d1c0e9b42", Options{})
		if err := b2.RestoreState(st); err != nil {
			t.Fatal(err)
		}
		st2, _ := b2.MarshalState()
		if !bytes.Equal(st, st2) {
			t.Fatalf("step %d: state changes across a round trip", i)
		}
		if !json.Valid(st) {
			t.Fatal("state is not JSON")
		}
	}
	if err := New("x", Options{}).RestoreState([]byte("{")); err == nil {
		t.Error("corrupt state accepted")
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := New("x", Options{Logger: quiet}).RestoreState([]byte(`{"v":999}`)); err != nil {
		t.Errorf("a state of another version is ignored, not an error: %v", err)
	}
}

// TestResponseRacingStop: afterAgentResponse delivered just after stop (hook
// processes race) still lands in the turn, which goes out settleQuiet after
// the first tick that saw it finished.
func TestResponseRacingStop(t *testing.T) {
	common := `"conversation_id":"conv-race","generation_id":"g1","model":"gpt-5","transcript_path":null`
	b := New("conv-race", Options{})
	apply(b, hookStep(base, "1", `{"hook_event_name":"beforeSubmitPrompt","prompt":"hi",`+common+`}`))
	apply(b, hookStep(base.Add(time.Second), "2", `{"hook_event_name":"afterAgentResponse","text":"first",`+common+`}`))
	apply(b, hookStep(base.Add(3*time.Second), "3", `{"hook_event_name":"stop","status":"completed",`+common+`}`))
	b.Tick(base.Add(3*time.Second + 100*time.Millisecond))
	apply(b, hookStep(base.Add(3*time.Second), "4", `{"hook_event_name":"afterAgentResponse","text":"final",`+common+`}`))
	b.Tick(base.Add(3*time.Second + 400*time.Millisecond))
	if got := b.Take(); len(got) != 0 {
		t.Fatalf("sent before settleQuiet: %s", names(got))
	}
	b.Tick(base.Add(3*time.Second + 600*time.Millisecond))
	turn := spanSet(b.Take()).one(t, "invoke_agent cursor")
	wantAttr(t, turn, "gen_ai.output.messages", `[{"role":"assistant","parts":[{"type":"text","content":"first"},{"type":"text","content":"final"}],"finish_reason":"stop"}]`)
}
