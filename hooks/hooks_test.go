package hooks

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestAnswerIsExactlyWhatEachAgentExpects(t *testing.T) {
	tests := []struct {
		agent, event, warning, want string
	}{
		{AgentClaude, "SessionStart", "", ""},
		{AgentClaude, "UserPromptSubmit", "", ""},
		{AgentClaude, "PostToolUse", "exports failing", ""},
		{AgentClaude, "SessionStart", "exports failing", `{"systemMessage":"exports failing"}` + "\n"},
		{AgentCodex, "SessionStart", "exports failing", ""},
		{AgentCodex, "UserPromptSubmit", "", ""},
		{AgentCodex, "Stop", "", ""},
		{AgentCursor, "beforeSubmitPrompt", "", `{"continue":true}` + "\n"},
		{AgentCursor, "preToolUse", "", `{"permission":"allow"}` + "\n"},
		{AgentCursor, "beforeShellExecution", "", `{"permission":"allow"}` + "\n"},
		{AgentCursor, "beforeMCPExecution", "", `{"permission":"allow"}` + "\n"},
		{AgentCursor, "beforeReadFile", "", `{"permission":"allow"}` + "\n"},
		{AgentCursor, "subagentStart", "", `{"permission":"allow"}` + "\n"},
		{AgentCursor, "stop", "", "{}\n"},
		{AgentCursor, "sessionEnd", "", "{}\n"},
		{AgentCursor, "postToolUseFailure", "", "{}\n"},
		{AgentCursor, "afterShellExecution", "", "{}\n"},
		{AgentCursor, "afterMCPExecution", "", "{}\n"},
		{AgentCursor, "afterFileEdit", "", "{}\n"},
		{AgentCursor, "afterAgentResponse", "", "{}\n"},
		{AgentCursor, "afterAgentThought", "", "{}\n"},
		{AgentCursor, "preCompact", "", "{}\n"},
		{AgentCursor, "beforeTabFileRead", "", `{"permission":"allow"}` + "\n"},
		{AgentCursor, "afterTabFileEdit", "", "{}\n"},
		{AgentCursor, "workspaceOpen", "", "{}\n"},
		{AgentCursor, "subagentStop", "", "{}\n"},
		{AgentCursor, "postToolUse", "x", "{}\n"},
		{AgentCursor, "sessionStart", "x", "{}\n"},
		{AgentGemini, "SessionStart", "exports failing", "{}\n"},
		{AgentGemini, "BeforeAgent", "", "{}\n"},
		{AgentGemini, "AfterAgent", "", "{}\n"},
		{"", "", "", ""},
	}
	for _, tt := range tests {
		if got := string(Answer(tt.agent, tt.event, tt.warning)); got != tt.want {
			t.Errorf("Answer(%s, %s) = %q, want %q", tt.agent, tt.event, got, tt.want)
		}
	}
}

func TestDetectUsesPayloadShapeOverRegistration(t *testing.T) {
	tests := []struct {
		payload, named, want string
	}{
		{`{"session_id":"s","hook_event_name":"Stop"}`, "", AgentClaude},
		{`{"session_id":"s","hook_event_name":"Stop"}`, "cursor", AgentClaude},
		{`{"conversation_id":"c","hook_event_name":"stop","cursor_version":"1"}`, "claude", AgentCursor},
		{`{"session_id":"c","hook_event_name":"sessionStart"}`, "claude", AgentCursor},
		{`not json`, "cursor", AgentCursor},
		{`{}`, "", ""},
		// Codex CLI: Claude-Code-shaped, told apart by the name it was
		// registered with, its turn_id or its rollout transcript.
		{`{"session_id":"s","hook_event_name":"Stop"}`, "codex", AgentCodex},
		{`{"session_id":"s","turn_id":"t","hook_event_name":"Stop"}`, "", AgentCodex},
		{`{"session_id":"s","turn_id":"t","hook_event_name":"Stop"}`, "claude", AgentCodex},
		{`{"session_id":"s","transcript_path":"/h/.codex/sessions/2026/12/05/rollout-2026-12-05T14-02-16-s.jsonl","hook_event_name":"SessionEnd","reason":"other"}`, "", AgentCodex},
		{`{"session_id":"s","transcript_path":"/h/.claude/projects/p/s.jsonl","hook_event_name":"SessionEnd"}`, "", AgentClaude},
		{`{"conversation_id":"c","hook_event_name":"stop","cursor_version":"1"}`, "codex", AgentCursor},
		// Gemini CLI: Claude-shaped payloads; its hook command names it.
		{`{"session_id":"s","transcript_path":"/h/.gemini/tmp/p/chats/session-x.jsonl","hook_event_name":"SessionStart","timestamp":"t"}`, "gemini", AgentGemini},
		{`{"session_id":"s","hook_event_name":"SessionEnd"}`, "gemini", AgentGemini},
		{`not json`, "gemini", AgentGemini},
		{`{"session_id":"s","hook_event_name":"AfterAgent","prompt":"p"}`, "", AgentGemini},
		{`{"session_id":"s","hook_event_name":"BeforeTool","tool_name":"run_shell_command"}`, "claude", AgentGemini},
		// A field of a type we did not expect (a newer agent) hides
		// nothing else: Cursor's answer stays Cursor's, a Claude Code
		// event is traced.
		{`{"conversation_id":"c","hook_event_name":"beforeSubmitPrompt","cursor_version":"1","workspace_roots":[{"path":"/w"}]}`, "claude", AgentCursor},
		{`{"session_id":"s","hook_event_name":"Stop","cwd":{"path":"/w"}}`, "", AgentClaude},
		{`{"session_id":"s","turn_id":7,"hook_event_name":"Stop","transcript_path":"/h/.codex/sessions/rollout-x.jsonl"}`, "", AgentCodex},
	}
	for _, tt := range tests {
		if got, _ := Detect([]byte(tt.payload), tt.named); got != tt.want {
			t.Errorf("Detect(%s, %q) = %q, want %q", tt.payload, tt.named, got, tt.want)
		}
	}
}

func TestFramesRoundTripAndCap(t *testing.T) {
	var buf bytes.Buffer
	in := &Request{V: 1, Op: OpEvent, Event: &Event{ID: "x", Payload: json.RawMessage(`{"a":1}`)}}
	if err := WriteFrame(&buf, in); err != nil {
		t.Fatal(err)
	}
	var out Request
	if err := ReadFrame(&buf, MaxFrame, &out); err != nil {
		t.Fatal(err)
	}
	if out.Event.ID != "x" || string(out.Event.Payload) != `{"a":1}` {
		t.Fatalf("round trip: %+v", out.Event)
	}
	buf.Reset()
	_ = WriteFrame(&buf, in)
	if err := ReadFrame(&buf, 5, &out); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("oversized frame: %v", err)
	}
	for _, junk := range [][]byte{nil, {0, 0}, {0, 0, 0, 9, '{'}, {0, 0, 0, 1, '['}} {
		if err := ReadFrame(bytes.NewReader(junk), MaxFrame, &out); err == nil {
			t.Errorf("junk %v decoded", junk)
		}
	}
}

func TestShrinkDropsLargestFieldsToFitFrame(t *testing.T) {
	big := strings.Repeat("a", MaxFrame)
	payload, _ := json.Marshal(map[string]any{"session_id": "s", "hook_event_name": "PostToolUse", "tool_response": big})
	ev := &Event{Payload: payload}
	Shrink(ev)
	if len(ev.Payload) > MaxFrame/2 || len(ev.Dropped) != 1 || ev.Dropped[0] != "tool_response" {
		t.Fatalf("dropped=%v len=%d", ev.Dropped, len(ev.Payload))
	}
	var c Common
	_ = json.Unmarshal(ev.Payload, &c)
	if c.SessionID != "s" {
		t.Fatal("routing fields lost")
	}
}

func TestStripBOM(t *testing.T) {
	if got := string(StripBOM([]byte("\xEF\xBB\xBF{}"))); got != "{}" {
		t.Fatalf("got %q", got)
	}
}

func TestResolvePaths(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	p, err := ResolvePaths(env(map[string]string{"WEAVE_AGENTD_HOME": "/w"}))
	if err != nil || p.Socket != "/w/agentd.sock" || p.ConfigFile != "/w/config.toml" || p.Inbox != "/w/inbox.jsonl" {
		t.Fatalf("%+v %v", p, err)
	}
	long := "/" + strings.Repeat("x", 120)
	p, _ = ResolvePaths(env(map[string]string{"WEAVE_AGENTD_HOME": long}))
	if !strings.HasPrefix(p.Socket, "/tmp/weave-agentd-") || p.StateDir != long {
		t.Fatalf("long home socket = %s", p.Socket)
	}
	if _, err := ResolvePaths(env(nil)); err == nil {
		t.Fatal("no HOME accepted")
	}
}

func TestInboxAppendDrainConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "inbox.jsonl")
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 25; j++ {
				if err := AppendInbox(path, &Event{ID: NewEventID(), Payload: json.RawMessage(`{"x":1}`)}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	total := 0
	drained := func() {
		n, err := DrainInbox(path, func(evs []*Event) error { return nil }, func([]byte, error) { t.Error("bad line") })
		if err != nil {
			t.Error(err)
		}
		total += n
	}
	drained() // concurrently with the writers
	wg.Wait()
	drained()
	if total != 500 {
		t.Fatalf("drained %d events, want 500", total)
	}
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("inbox folder mode: %v %v", fi.Mode(), err)
	}
}

func TestDrainKeepsJournalWhenProcessingFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inbox.jsonl")
	_ = AppendInbox(path, &Event{ID: "a", Payload: json.RawMessage(`{}`)})
	if err := os.WriteFile(path+".tmp", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("garbage\n{\"id\":\"partial")
	f.Close()
	var bad int
	_, err := DrainInbox(path, func([]*Event) error { return errors.New("disk full") }, func([]byte, error) { bad++ })
	if err == nil {
		t.Fatal("want error")
	}
	n, err := DrainInbox(path, func(evs []*Event) error { return nil }, func([]byte, error) { bad++ })
	if err != nil || n != 1 {
		t.Fatalf("second drain: %d, %v", n, err)
	}
	if bad != 4 { // garbage + partial, seen on both passes
		t.Fatalf("bad lines = %d", bad)
	}
}

// fakeDaemon answers one kind of response on a socket.
func fakeDaemon(t *testing.T, sock string, delay time.Duration, resp Response) <-chan *Request {
	t.Helper()
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *Request, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			var req Request
			if ReadFrame(c, MaxFrame, &req) == nil {
				got <- &req
				time.Sleep(delay)
				r := resp
				_ = WriteFrame(c, &r)
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return got
}

func TestRunHookDeliversAndPrintsNothingForClaude(t *testing.T) {
	home := t.TempDir()
	getenv := func(k string) string { return map[string]string{"WEAVE_AGENTD_HOME": home}[k] }
	got := fakeDaemon(t, filepath.Join(home, "agentd.sock"), 0, Response{V: ProtocolVersion, OK: true})
	var out bytes.Buffer
	code := RunHook([]string{"claude"}, strings.NewReader(`{"session_id":"s1","hook_event_name":"Stop"}`), &out, getenv)
	if code != 0 || out.Len() != 0 {
		t.Fatalf("code=%d out=%q", code, out.String())
	}
	req := <-got
	if req.Op != OpEvent || req.Event.Session != "s1" || req.Event.Name != "Stop" || len(req.Event.ID) != 32 || req.Event.RecvNS == 0 {
		t.Fatalf("request = %+v", req.Event)
	}
	if _, err := os.Stat(filepath.Join(home, "inbox.jsonl")); err == nil {
		t.Fatal("inbox written although the daemon acked")
	}
}

func TestRunHookSystemMessageOnSessionStartWhenWarned(t *testing.T) {
	home := t.TempDir()
	getenv := func(k string) string { return map[string]string{"WEAVE_AGENTD_HOME": home}[k] }
	fakeDaemon(t, filepath.Join(home, "agentd.sock"), 0, Response{V: ProtocolVersion, OK: true, Warning: "exports failing"})
	var out bytes.Buffer
	RunHook(nil, strings.NewReader(`{"session_id":"s1","hook_event_name":"SessionStart"}`), &out, getenv)
	if out.String() != `{"systemMessage":"exports failing"}`+"\n" {
		t.Fatalf("out = %q", out.String())
	}
}

func TestRunHookFallsBackToInbox(t *testing.T) {
	tests := []struct {
		name   string
		daemon func(t *testing.T, sock string)
	}{
		{"no daemon", func(*testing.T, string) {}},
		{"slow daemon", func(t *testing.T, sock string) {
			fakeDaemon(t, sock, 500*time.Millisecond, Response{V: ProtocolVersion, OK: true})
		}},
		{"daemon refuses", func(t *testing.T, sock string) {
			fakeDaemon(t, sock, 0, Response{V: ProtocolVersion, Error: "disk full"})
		}},
		{"old daemon", func(t *testing.T, sock string) {
			fakeDaemon(t, sock, 0, Response{V: 99, OK: true})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			getenv := func(k string) string {
				return map[string]string{"WEAVE_AGENTD_HOME": home, "WEAVE_AGENTD_HOOK_TIMEOUT_MS": "100"}[k]
			}
			tt.daemon(t, filepath.Join(home, "agentd.sock"))
			var out bytes.Buffer
			code := RunHook([]string{"cursor"}, strings.NewReader("\xEF\xBB\xBF"+`{"conversation_id":"c","hook_event_name":"beforeSubmitPrompt","cursor_version":"1"}`), &out, getenv)
			if code != 0 || out.String() != "{\"continue\":true}\n" {
				t.Fatalf("code=%d out=%q", code, out.String())
			}
			b, err := os.ReadFile(filepath.Join(home, "inbox.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			var ev Event
			if err := json.Unmarshal(bytes.TrimSpace(b), &ev); err != nil || ev.Agent != AgentCursor || ev.Session != "c" {
				t.Fatalf("inbox = %s (%v)", b, err)
			}
			if fi, _ := os.Stat(filepath.Join(home, "inbox.jsonl")); fi.Mode().Perm() != 0o600 {
				t.Fatalf("inbox mode %v", fi.Mode())
			}
		})
	}
}

func TestRunHookNeverFailsOnBadInput(t *testing.T) {
	home := t.TempDir()
	getenv := func(k string) string { return map[string]string{"WEAVE_AGENTD_HOME": home}[k] }
	for _, in := range []string{"", "garbage", "\x00\x01", `{"hook_event_name":`} {
		var out bytes.Buffer
		if code := RunHook([]string{"claude"}, strings.NewReader(in), &out, getenv); code != 0 || out.Len() != 0 {
			t.Errorf("input %q: code=%d out=%q", in, code, out.String())
		}
	}
}

func TestRunHookDisabledSendsNothing(t *testing.T) {
	home := t.TempDir()
	getenv := func(k string) string {
		return map[string]string{"WEAVE_AGENTD_HOME": home, "WEAVE_AGENTD_DISABLED": "1"}[k]
	}
	var out bytes.Buffer
	RunHook(nil, strings.NewReader(`{"conversation_id":"c","hook_event_name":"stop","cursor_version":"1"}`), &out, getenv)
	if out.String() != "{}\n" {
		t.Fatalf("out = %q", out.String())
	}
	if _, err := os.Stat(filepath.Join(home, "inbox.jsonl")); err == nil {
		t.Fatal("disabled hook wrote the inbox")
	}
}

func FuzzReadFrame(f *testing.F) {
	var buf bytes.Buffer
	_ = WriteFrame(&buf, &Request{V: 1, Op: OpEvent, Event: &Event{ID: "x"}})
	f.Add(buf.Bytes())
	f.Add([]byte{0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Request
		_ = ReadFrame(bytes.NewReader(b), 1<<16, &r)
	})
}

func FuzzDetect(f *testing.F) {
	f.Add([]byte(`{"session_id":"s","hook_event_name":"Stop"}`), "claude")
	f.Add([]byte("\xEF\xBB\xBF{\"cursor_version\":\"x\"}"), "")
	f.Fuzz(func(t *testing.T, b []byte, named string) {
		agent, c := Detect(StripBOM(b), named)
		_ = Answer(agent, c.HookEventName, "")
	})
}

func TestCursorEventIDCollapsesTheImportedCopy(t *testing.T) {
	native := `{"conversation_id":"c","generation_id":"g","hook_event_name":"postToolUse","tool_use_id":"t1","cwd":"/w","workspace_roots":["/w"],"cursor_version":"1"}`
	imported := `{"workspace_roots":["/w"],"cwd":"","tool_use_id":"t1","hook_event_name":"postToolUse","generation_id":"g","conversation_id":"c","cursor_version":"1"}`
	other := `{"conversation_id":"c","generation_id":"g","hook_event_name":"postToolUse","tool_use_id":"t2","cwd":"/w","cursor_version":"1"}`
	a, b, c := CursorEventID([]byte(native)), CursorEventID([]byte(imported)), CursorEventID([]byte(other))
	if a != b || a == c || len(a) != 33 {
		t.Fatalf("ids %s %s %s", a, b, c)
	}
}
