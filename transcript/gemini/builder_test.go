package gemini

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/internal/testkit"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// fileTotals sums the tokens of the chat file's model messages, each id
// once, as the first copy says (a resume's rewrite drops them).
func fileTotals(t *testing.T, lines [][]byte) (total, thoughts int64) {
	t.Helper()
	seen := map[string]bool{}
	for _, l := range lines {
		r, err := parseLine(l)
		if err != nil || !r.isMessage() || r.Type != "gemini" || seen[r.ID] || r.Tokens == nil {
			continue
		}
		seen[r.ID] = true
		total += r.Tokens.Total
		thoughts += r.Tokens.Thoughts
	}
	return total, thoughts
}

// TestUsageSumsToGeminiTotal: input + output summed over a conversation's
// spans is Gemini CLI's own total (stdout.txt) and the file's, replayed
// from the file alone and live with the hooks; reasoning is the thoughts.
func TestUsageSumsToGeminiTotal(t *testing.T) {
	for _, c := range fixtureCases {
		t.Run(c.name, func(t *testing.T) {
			fc := loadFixture(t, c.name)
			total, thoughts := fileTotals(t, fc.lines)
			if own := ownTotal(t, c.name); own != total {
				t.Fatalf("the file's total %d is not Gemini CLI's %d", total, own)
			}
			lv, _ := live(fc, Options{})
			for mode, spans := range map[string][]genai.Span{"backfill": backfill(fc, Options{}), "live": lv} {
				u := testkit.SumUsage(spans, nil)
				if u.Input+u.Output != total || u.Reasoning != thoughts {
					t.Errorf("%s: input %d + output %d = %d, reasoning %d; want %d and %d", mode, u.Input, u.Output, u.Input+u.Output, u.Reasoning, total, thoughts)
				}
			}
		})
	}
}

// TestLiveEqualsBackfill: the same spans, byte for byte, whether the file
// is read with its hooks as it was written or afterwards alone, but for the
// tool spans' times (live, those of BeforeTool and AfterTool); live, each
// turn ends at its AfterAgent (not by the idle timeout).
func TestLiveEqualsBackfill(t *testing.T) {
	for _, c := range fixtureCases {
		t.Run(c.name, func(t *testing.T) {
			fc := loadFixture(t, c.name)
			lv, before := live(fc, Options{})
			bf := backfill(fc, Options{})
			if before != len(lv) {
				t.Errorf("%d of %d spans waited for the timeouts", len(lv)-before, len(lv))
			}
			var ran [][2]time.Time // BeforeTool, AfterTool
			for _, h := range fc.hooks {
				var p hookPayload
				if err := json.Unmarshal(h.Payload, &p); err != nil {
					t.Fatal(err)
				}
				switch h.Event {
				case "BeforeTool":
					ran = append(ran, [2]time.Time{parseTime(p.Timestamp)})
				case "AfterTool":
					ran[len(ran)-1][1] = parseTime(p.Timestamp)
				}
			}
			var tools int
			for i, s := range lv {
				if !strings.HasPrefix(s.Name, "execute_tool") {
					continue
				}
				if tools >= len(ran) || !s.Start.Equal(ran[tools][0]) || !s.End.Equal(ran[tools][1]) {
					t.Fatalf("live tool span %d: %s .. %s, its hooks: %v", tools, s.Start, s.End, ran)
				}
				tools++
				j := slices.IndexFunc(bf, func(b genai.Span) bool { return b.SpanID == s.SpanID })
				if j < 0 || bf[j].Start.Equal(s.Start) || bf[j].End.Equal(s.End) {
					t.Fatalf("backfilled tool span %d: not there, or timed as by the hooks", tools)
				}
				lv[i].Start, lv[i].End = bf[j].Start, bf[j].End
			}
			if tools != len(ran) {
				t.Fatalf("%d live tool spans, %d BeforeTool", tools, len(ran))
			}
			slices.SortStableFunc(lv, testkit.ByStart)
			slices.SortStableFunc(bf, testkit.ByStart)
			if !reflect.DeepEqual(lv, bf) {
				t.Errorf("live:\n%s\nbackfill:\n%s", renderTree("live", lv), renderTree("backfill", bf))
			}
		})
	}
}

// TestAfterAgentBeforeTheFinalLines: the daemon may read the final answer
// after the AfterAgent event: the turn ends when it arrives, and without
// it StopWait after the event.
func TestAfterAgentBeforeTheFinalLines(t *testing.T) {
	fc := loadFixture(t, "tool")
	after := []byte(`{"session_id":"` + fc.session + `","hook_event_name":"AfterAgent","timestamp":"2026-12-05T14:02:16.328Z"}`)
	at := time.Date(2026, 12, 5, 14, 2, 16, 400e6, time.UTC)
	for _, withAnswer := range []bool{true, false} {
		b := New(fc.session, Options{TranscriptPath: fc.chat})
		n := len(fc.lines) - 2 // without the final answer and its patch
		if !withAnswer {
			n = len(fc.lines) - 3 // the tool result read, no answer yet
		}
		b.Tick(at)
		for _, l := range fc.lines[:n] {
			b.Line(fc.chat, l)
		}
		b.Hook(transcript.Event{ID: "1", ReceivedAt: at, Payload: after})
		if got := b.Take(); len(got) != 2 {
			t.Fatalf("before the answer: %d spans, want the first chat and tool", len(got))
		}
		if withAnswer {
			b.Line(fc.chat, fc.lines[len(fc.lines)-2])
			b.Tick(at)
			if got := b.Take(); len(got) != 2 || got[1].Name != "invoke_agent gemini-cli" {
				t.Fatalf("after the answer: %s", renderTree("", got))
			}
			continue
		}
		b.Tick(at.Add(time.Second))
		if got := b.Take(); len(got) != 0 {
			t.Fatalf("the turn ended before StopWait: %d spans", len(got))
		}
		b.Tick(at.Add(defaultStopWait))
		if got := b.Take(); len(got) != 1 || got[0].Name != "invoke_agent gemini-cli" {
			t.Fatalf("after StopWait: %s", renderTree("", got))
		}
	}
}

// TestReplacedMessage: a model message written again with its toolCalls is
// one chat span (with the tool call part and the first copy's usage) and
// one tool span.
func TestReplacedMessage(t *testing.T) {
	fc := loadFixture(t, "tool")
	spans := backfill(fc, Options{})
	var chats, tools int
	for _, s := range spans {
		a := testkit.AttrMap(s)
		switch a["gen_ai.operation.name"] {
		case "chat":
			if a["gen_ai.response.id"] == "b8c2ad0f-baa9-4eab-a896-f2545c1a9b5f" {
				chats++
				if !strings.Contains(a["gen_ai.output.messages"], `"type":"tool_call"`) || a["gen_ai.usage.input_tokens"] != "111" {
					t.Errorf("replaced message: %v", a)
				}
			}
		case "execute_tool":
			tools++
		}
	}
	if chats != 1 || tools != 1 {
		t.Fatalf("%d chat spans for the rewritten message, %d tool spans; want 1 and 1", chats, tools)
	}
	// A rewrite without tokens keeps the first copy's.
	b := New("s", Options{})
	b.Line("", []byte(`{"id":"u1","timestamp":"2026-12-05T14:00:00Z","type":"user","content":[{"text":"hi"}]}`))
	b.Line("", []byte(`{"id":"m1","timestamp":"2026-12-05T14:00:01Z","type":"gemini","content":"","model":"g","tokens":{"input":5,"output":1,"total":6}}`))
	b.Line("", []byte(`{"id":"m1","timestamp":"2026-12-05T14:00:01Z","type":"gemini","content":"done","model":"g"}`))
	settle(b)
	if u := testkit.SumUsage(b.Take(), nil); u.Input+u.Output != 6 {
		t.Fatalf("usage %d after a rewrite without tokens, want 6", u.Input+u.Output)
	}
}

// resumeLines is the tool capture resumed: a second header, the whole
// history again as a $set (the model messages without their tokens, as
// Gemini CLI writes it), then a new prompt and its answer.
func resumeLines(t *testing.T, fc fixtureCase) [][]byte {
	t.Helper()
	var history []json.RawMessage
	for _, l := range fc.lines {
		var m map[string]json.RawMessage
		if json.Unmarshal(l, &m) != nil || m["id"] == nil {
			continue
		}
		delete(m, "tokens")
		b, _ := json.Marshal(m)
		history = append(history, b)
	}
	set, _ := json.Marshal(map[string]any{"$set": map[string]any{"messages": history, "lastUpdated": "2026-12-05T15:00:00.000Z"}})
	lines := append([][]byte(nil), fc.lines...)
	return append(lines,
		[]byte(`{"sessionId":"`+fc.session+`","projectHash":"x","startTime":"2026-12-05T14:02:15.935Z","lastUpdated":"2026-12-05T15:00:00.000Z","kind":"main"}`),
		set,
		[]byte(`{"id":"u2","timestamp":"2026-12-05T15:00:01.000Z","type":"user","content":[{"text":"And again"}]}`),
		[]byte(`{"id":"m2","timestamp":"2026-12-05T15:00:02.000Z","type":"gemini","content":"Again.","thoughts":[],"tokens":{"input":300,"output":5,"cached":200,"thoughts":0,"tool":0,"total":305},"model":"gemini-2.5-flash"}`),
		[]byte(`{"$set":{"lastUpdated":"2026-12-05T15:00:02.000Z"}}`))
}

// TestResume: a resume's rewrite of the history makes no span (nothing
// twice, the first copies' tokens stand), the new turn is a trace of its own.
func TestResume(t *testing.T) {
	fc := loadFixture(t, "tool")
	lines := resumeLines(t, fc)
	b := New(fc.session, Options{TranscriptPath: fc.chat})
	for _, l := range lines {
		b.Line(fc.chat, l)
	}
	settle(b)
	spans := b.Take()
	checkSpans(t, fc.session, spans)
	total, _ := fileTotals(t, lines)
	if u := testkit.SumUsage(spans, nil); u.Input+u.Output != total || total != 350+305 {
		t.Errorf("usage %d, file %d, want %d", u.Input+u.Output, total, 350+305)
	}
	traces := map[genai.TraceID]int{}
	for _, s := range spans {
		traces[s.TraceID]++
	}
	if len(spans) != 6 || len(traces) != 2 {
		t.Fatalf("%d spans in %d traces, want 4+2 in 2:\n%s", len(spans), len(traces), renderTree("resume", spans))
	}
}

// TestRestartAtEveryLine: a builder restored from its state after every
// line and hook (a daemon restarted at any instant) makes the same spans,
// byte for byte, as one that ran through.
func TestRestartAtEveryLine(t *testing.T) {
	for _, c := range fixtureCases {
		t.Run(c.name, func(t *testing.T) {
			fc := loadFixture(t, c.name)
			want, _ := live(fc, Options{})
			var got []genai.Span
			var st []byte
			restart := func() *Builder {
				b := New(fc.session, Options{})
				if st != nil {
					if err := b.RestoreState(st); err != nil {
						t.Fatal(err)
					}
				}
				return b
			}
			save := func(b *Builder) {
				got = append(got, b.Take()...)
				var err error
				if st, err = b.MarshalState(); err != nil {
					t.Fatal(err)
				}
			}
			fed := 0
			var at time.Time
			for i, h := range fc.hooks {
				at = time.Unix(0, int64(h.TS*1e9)).UTC()
				b := restart()
				b.Hook(transcript.Event{ID: fmt.Sprint(i), Name: h.Event, ReceivedAt: at, Payload: h.Payload})
				save(b)
				for ; fed < h.At.Lines && fed < len(fc.lines); fed++ {
					b := restart()
					b.Line(fc.chat, fc.lines[fed])
					save(b)
				}
				b = restart()
				b.Tick(at)
				save(b)
			}
			b := restart()
			for ; fed < len(fc.lines); fed++ {
				b.Line(fc.chat, fc.lines[fed])
			}
			b.Tick(at)
			settle(b)
			save(b)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("restarted:\n%s\nran through:\n%s", renderTree("restarted", got), renderTree("through", want))
			}
		})
	}
}

// TestMetadataMode: with DropContent the persisted state holds no prompt,
// answer, thought, argument or result, and the title is the project and
// the date.
func TestMetadataMode(t *testing.T) {
	fc := loadFixture(t, "tool")
	home := t.TempDir()
	chat := filepath.Join(home, "tmp", "work-gemini-tool", "chats", filepath.Base(fc.chat))
	if err := os.MkdirAll(filepath.Dir(chat), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "tmp", "work-gemini-tool", ".project_root"), []byte("/home/dev/work-gemini-tool"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := New(fc.session, Options{TranscriptPath: chat, GeminiHome: home, DropContent: true})
	var spans []genai.Span
	for _, l := range fc.lines {
		b.Line(chat, l)
		st, err := b.MarshalState()
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{"List the files", "MOCK_THOUGHT", `"ls"`, "file_a.txt", "MOCK_FINAL"} {
			if bytes.Contains(st, []byte(secret)) {
				t.Fatalf("state holds %q: %s", secret, st)
			}
		}
		spans = append(spans, b.Take()...)
	}
	settle(b)
	spans = append(spans, b.Take()...)
	if len(spans) != 4 {
		t.Fatalf("%d spans, want 4", len(spans))
	}
	for _, s := range spans {
		if got := testkit.AttrMap(s)["gen_ai.conversation.name"]; got != "work-gemini-tool · 2026-12-05" {
			t.Fatalf("title %q", got)
		}
	}
}

// TestVertexProvider: settings selecting Vertex AI (comments and all) name
// gcp.vertex_ai; the choice is kept in the state.
func TestVertexProvider(t *testing.T) {
	home := t.TempDir()
	settings := "{\n  // Vertex\n  \"security\": {\"auth\": {\"selectedType\": \"vertex-ai\"}}\n}\n"
	if err := os.WriteFile(filepath.Join(home, "settings.json"), []byte(settings), 0o600); err != nil {
		t.Fatal(err)
	}
	b := New("s", Options{GeminiHome: home})
	b.Line("", []byte(`{"id":"u1","timestamp":"2026-12-05T14:00:00Z","type":"user","content":[{"text":"hi"}]}`))
	b.Line("", []byte(`{"id":"m1","timestamp":"2026-12-05T14:00:01Z","type":"gemini","content":"yo","model":"gemini-2.5-pro"}`))
	b.Line("", []byte(`{"id":"u2","timestamp":"2026-12-05T14:00:02Z","type":"user","content":[{"text":"again"}]}`))
	spans := b.Take()
	if len(spans) != 2 || testkit.AttrMap(spans[0])["gen_ai.provider.name"] != genai.ProviderVertex {
		t.Fatalf("spans: %s", renderTree("", spans))
	}
	st, _ := b.MarshalState()
	if err := os.Remove(filepath.Join(home, "settings.json")); err != nil {
		t.Fatal(err)
	}
	b2 := New("s", Options{GeminiHome: home})
	if err := b2.RestoreState(st); err != nil {
		t.Fatal(err)
	}
	settle(b2)
	for _, s := range b2.Take() {
		if p := testkit.AttrMap(s)["gen_ai.provider.name"]; p != genai.ProviderVertex {
			t.Fatalf("after a restart: provider %s", p)
		}
	}
}

// TestBounds: garbage and oversized lines are skipped and counted; a huge
// text, argument or result is kept in part, counted, and the state stays
// small.
func TestBounds(t *testing.T) {
	b := New("s", Options{})
	huge := strings.Repeat("x", 4*maxText)
	for _, l := range []string{"not json", "{", `[1,2]`, `{"$set":`, ""} {
		b.Line("", []byte(l))
	}
	if st := b.Stats(); st.SkippedLines != 5 {
		t.Fatalf("skipped %d lines, want 5", st.SkippedLines)
	}
	b.Line("", []byte(`{"id":"u1","timestamp":"2026-12-05T14:00:00Z","type":"user","content":[{"text":"`+huge+`"}]}`))
	b.Line("", []byte(`{"id":"m1","timestamp":"2026-12-05T14:00:01Z","type":"gemini","content":"`+huge+`","thoughts":[{"subject":"s","description":"`+huge+`"}],"toolCalls":[{"id":"t1","name":"x","args":{"a":"`+huge+`"},"result":[{"functionResponse":{"id":"t1","name":"x","response":{"output":"`+huge+`"}}}],"status":"error"}]}`))
	if st := b.Stats(); st.TruncatedLines != 2 {
		t.Fatalf("truncated %d lines, want 2", st.TruncatedLines)
	}
	st, err := b.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	if len(st) > 6*maxText {
		t.Fatalf("state is %d bytes", len(st))
	}
	settle(b)
	spans := b.Take()
	if len(spans) != 3 {
		t.Fatalf("%d spans, want 3", len(spans))
	}
	for _, s := range spans {
		if s.Name == "execute_tool x" && (s.Status != genai.StatusError || testkit.AttrMap(s)["error.type"] != "tool_error") {
			t.Errorf("failed tool call: %v %v", s.Status, testkit.AttrMap(s))
		}
		for _, kv := range s.Attrs {
			if v := kv.Value.String(); len(v) > 4*maxText { // at most three parts of maxText; the daemon caps attributes
				t.Errorf("%s %s is %d bytes", s.Name, kv.Key, len(v))
			}
		}
	}
	b.Line("", bytes.Repeat([]byte("x"), transcript.MaxLine+1))
	if st := b.Stats(); st.SkippedLines != 6 {
		t.Fatalf("skipped %d lines after an oversized one, want 6", st.SkippedLines)
	}
}

// TestPromptsAndTurns: the session context and tool results sent back are
// not prompts; a new prompt ends the previous turn; an interrupted turn
// ends at the next BeforeAgent; a stale hook ends nothing.
func TestPromptsAndTurns(t *testing.T) {
	b := New("s", Options{})
	b.Line("", []byte(`{"id":"c","timestamp":"2026-12-05T14:00:00Z","type":"user","content":[{"text":"<session_context>\nx\n</session_context>"}]}`))
	b.Line("", []byte(`{"id":"u1","timestamp":"2026-12-05T14:00:01Z","type":"user","content":[{"text":"one"}]}`))
	b.Line("", []byte(`{"id":"m1","timestamp":"2026-12-05T14:00:02Z","type":"gemini","content":"","toolCalls":[{"id":"t1","name":"ls","args":{},"status":"cancelled","timestamp":"2026-12-05T14:00:03Z"}]}`))
	b.Line("", []byte(`{"id":"r1","timestamp":"2026-12-05T14:00:03Z","type":"user","content":[{"functionResponse":{"id":"t1","name":"ls","response":{"error":"cancelled"}}}]}`))
	// A stale BeforeAgent (an inbox drained late) ends nothing.
	b.Hook(transcript.Event{ID: "1", Payload: []byte(`{"hook_event_name":"BeforeAgent","timestamp":"2026-12-05T14:00:00.500Z"}`)})
	if got := b.Take(); len(got) != 2 {
		t.Fatalf("%d spans, want the chat and the cancelled tool: %s", len(got), renderTree("", got))
	}
	b.Hook(transcript.Event{ID: "2", Payload: []byte(`{"hook_event_name":"BeforeAgent","timestamp":"2026-12-05T14:01:00Z","prompt":"two"}`)})
	got := b.Take()
	if len(got) != 1 || got[0].Name != "invoke_agent gemini-cli" {
		t.Fatalf("BeforeAgent did not end the interrupted turn: %s", renderTree("", got))
	}
	if !b.Idle() {
		t.Fatal("not idle after the turn ended")
	}
	b.Line("", []byte(`{"id":"u2","timestamp":"2026-12-05T14:01:00.100Z","type":"user","content":[{"text":"two"}]}`))
	b.Line("", []byte(`{"id":"e2","timestamp":"2026-12-05T14:01:01Z","type":"error","content":"quota exceeded"}`))
	settle(b)
	got = b.Take()
	if len(got) != 1 || got[0].Status != genai.StatusError || got[0].StatusMessage != "quota exceeded" {
		t.Fatalf("failed turn: %s", renderTree("", got))
	}
	if testkit.AttrMap(got[0])["gen_ai.conversation.name"] != "one" {
		t.Fatalf("title %q", testkit.AttrMap(got[0])["gen_ai.conversation.name"])
	}
}

// TestLongToolKeepsTheTurnOpen: a model message is written before its
// tool calls run, and again with them once they have: a tool running for
// minutes must not end the turn, with hooks (BeforeTool seen, no AfterAgent)
// or without, whether the message has text or not (without hooks, the last
// turn ends at the idle timeout).
func TestLongToolKeepsTheTurnOpen(t *testing.T) {
	at := time.Date(2026, 12, 5, 14, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, text string
		hooks      bool
	}{{"hooks, text before the call", "Let me look.", true}, {"no hooks, no text", "", false}, {"no hooks, text before the call", "Let me look.", false}} {
		t.Run(tc.name, func(t *testing.T) {
			b := New("s", Options{})
			b.Tick(at)
			if tc.hooks {
				b.Hook(transcript.Event{ID: "1", ReceivedAt: at, Payload: []byte(`{"hook_event_name":"BeforeAgent","timestamp":"2026-12-05T14:00:00Z"}`)})
			}
			b.Line("", []byte(`{"id":"u1","timestamp":"2026-12-05T14:00:00.100Z","type":"user","content":[{"text":"build it"}]}`))
			b.Line("", []byte(`{"id":"m1","timestamp":"2026-12-05T14:00:01Z","type":"gemini","content":"`+tc.text+`","model":"g","tokens":{"input":5,"output":1,"total":6}}`))
			if tc.hooks {
				b.Hook(transcript.Event{ID: "2", ReceivedAt: at.Add(time.Second), Payload: []byte(`{"hook_event_name":"BeforeTool","timestamp":"2026-12-05T14:00:01Z","tool_name":"run_shell_command"}`)})
			}
			for s := 2; s < 300; s += 5 {
				b.Tick(at.Add(time.Duration(s) * time.Second))
			}
			if got := b.Take(); len(got) != 0 {
				t.Fatalf("the turn ended while its tool ran: %s", renderTree("", got))
			}
			b.Line("", []byte(`{"id":"m1","timestamp":"2026-12-05T14:00:01Z","type":"gemini","content":"`+tc.text+`","model":"g","tokens":{"input":5,"output":1,"total":6},"toolCalls":[{"id":"t1","name":"run_shell_command","args":{"command":"make"},"result":[{"functionResponse":{"id":"t1","name":"run_shell_command","response":{"output":"ok"}}}],"status":"success","timestamp":"2026-12-05T14:05:00Z"}]}`))
			b.Line("", []byte(`{"id":"r1","timestamp":"2026-12-05T14:05:00.100Z","type":"user","content":[{"functionResponse":{"id":"t1","name":"run_shell_command","response":{"output":"ok"}}}]}`))
			b.Line("", []byte(`{"id":"m2","timestamp":"2026-12-05T14:05:01Z","type":"gemini","content":"Built.","model":"g","tokens":{"input":9,"output":1,"total":10}}`))
			if tc.hooks {
				b.Hook(transcript.Event{ID: "3", ReceivedAt: at.Add(301 * time.Second), Payload: []byte(`{"hook_event_name":"AfterAgent","timestamp":"2026-12-05T14:05:01Z"}`)})
			}
			end := at.Add(303 * time.Second)
			var got []genai.Span
			if !tc.hooks {
				// Nothing tells the answer from a call still running but
				// the idle timeout.
				b.Tick(end)
				if got = b.Take(); len(got) != 2 {
					t.Fatalf("without hooks, a quiet answer ended its turn before the idle timeout: %s", renderTree("", got))
				}
				end = at.Add(301*time.Second + defaultIdleTimeout)
			}
			b.Tick(end)
			got = append(got, b.Take()...)
			if len(got) != 4 || got[3].Name != "invoke_agent gemini-cli" || !got[3].End.Equal(at.Add(301*time.Second)) {
				t.Fatalf("spans: %s", renderTree("", got))
			}
		})
	}
}

// TestSettle: a backfilled file's last turn ends at Settle, with or without
// a Tick before it, and with its hooks' times later than the daemon's clock.
func TestSettle(t *testing.T) {
	fc := loadFixture(t, "text")
	for _, tick := range []bool{false, true} {
		b := New(fc.session, Options{})
		if tick {
			b.Tick(time.Date(2026, 12, 5, 14, 4, 40, 0, time.UTC))
			b.Hook(transcript.Event{ID: "1", ReceivedAt: time.Date(2026, 12, 5, 15, 0, 0, 0, time.UTC),
				Payload: []byte(`{"hook_event_name":"BeforeTool","timestamp":"2026-12-05T14:04:44Z"}`)})
		}
		for _, l := range fc.lines {
			b.Line(fc.chat, l)
		}
		b.Settle()
		if got := b.Take(); len(got) != 2 || !b.Idle() {
			t.Fatalf("tick %v: %d spans after Settle, idle %v", tick, len(got), b.Idle())
		}
	}
}

// TestStateStaysSmall: the persisted state does not grow with the
// session: 500 turns of a prompt, a tool call and an answer, each ~10 KB.
func TestStateStaysSmall(t *testing.T) {
	b := New("s", Options{})
	at := time.Date(2026, 12, 5, 14, 0, 0, 0, time.UTC)
	ts := func(s int) string { return at.Add(time.Duration(s) * time.Second).Format(time.RFC3339Nano) }
	big := strings.Repeat("y", 10<<10)
	var spans, maxState int
	for i := range 500 {
		id := fmt.Sprint(i)
		for _, l := range []string{
			`{"id":"u` + id + `","timestamp":"` + ts(4*i) + `","type":"user","content":[{"text":"prompt ` + id + `"}]}`,
			`{"id":"m` + id + `","timestamp":"` + ts(4*i+1) + `","type":"gemini","content":"","model":"g","tokens":{"input":10,"output":1,"total":11}}`,
			`{"id":"m` + id + `","timestamp":"` + ts(4*i+1) + `","type":"gemini","content":"","model":"g","tokens":{"input":10,"output":1,"total":11},"toolCalls":[{"id":"t` + id + `","name":"read_file","args":{"path":"f"},"result":[{"functionResponse":{"id":"t` + id + `","name":"read_file","response":{"output":"` + big + `"}}}],"status":"success","timestamp":"` + ts(4*i+2) + `"}]}`,
			`{"id":"r` + id + `","timestamp":"` + ts(4*i+2) + `","type":"user","content":[{"functionResponse":{"id":"t` + id + `","name":"read_file","response":{"output":"` + big + `"}}}]}`,
			`{"id":"a` + id + `","timestamp":"` + ts(4*i+3) + `","type":"gemini","content":"answer ` + id + `","model":"g","tokens":{"input":20,"output":2,"total":22}}`,
			`{"$set":{"lastUpdated":"` + ts(4*i+3) + `"}}`,
		} {
			b.Line("", []byte(l))
		}
		spans += len(b.Take())
		st, err := b.MarshalState()
		if err != nil {
			t.Fatal(err)
		}
		maxState = max(maxState, len(st))
	}
	settle(b)
	spans += len(b.Take())
	if spans != 500*4 {
		t.Errorf("%d spans, want %d", spans, 500*4)
	}
	t.Logf("state at most %d bytes", maxState)
	if maxState > 64<<10 {
		t.Errorf("state grew to %d bytes", maxState)
	}
}

// TestTitleAsShown: the title is the prompt as the user typed it
// (displayContent: a custom command), not the text it expanded to.
func TestTitleAsShown(t *testing.T) {
	b := New("s", Options{})
	b.Line("", []byte(`{"id":"u1","timestamp":"2026-12-05T14:00:00Z","type":"user","content":[{"text":"You are a careful reviewer. Review main.go for bugs."}],"displayContent":[{"text":"/review main.go"}]}`))
	b.Line("", []byte(`{"id":"m1","timestamp":"2026-12-05T14:00:01Z","type":"gemini","content":"It is a main package.","model":"g"}`))
	settle(b)
	for _, s := range b.Take() {
		if got := testkit.AttrMap(s)["gen_ai.conversation.name"]; got != "/review main.go" {
			t.Fatalf("title %q", got)
		}
	}
}

// TestRewind: a rewind record changes nothing already sent; the prompt after
// it is a turn of its own.
func TestRewind(t *testing.T) {
	b := New("s", Options{})
	for _, l := range []string{
		`{"id":"u1","timestamp":"2026-12-05T14:00:00Z","type":"user","content":[{"text":"one"}]}`,
		`{"id":"m1","timestamp":"2026-12-05T14:00:01Z","type":"gemini","content":"1","model":"g","tokens":{"input":5,"output":1,"total":6}}`,
		`{"$rewindTo":"u1"}`,
		`{"id":"u2","timestamp":"2026-12-05T14:01:00Z","type":"user","content":[{"text":"one, again"}]}`,
		`{"id":"m2","timestamp":"2026-12-05T14:01:01Z","type":"gemini","content":"2","model":"g","tokens":{"input":5,"output":1,"total":6}}`,
	} {
		b.Line("", []byte(l))
	}
	settle(b)
	spans := b.Take()
	checkSpans(t, "s", spans)
	if u := testkit.SumUsage(spans, nil); len(spans) != 4 || u.Input+u.Output != 12 || b.Stats().SkippedLines != 0 {
		t.Fatalf("%d spans, usage %d: %s", len(spans), u.Input+u.Output, renderTree("", spans))
	}
}

// TestFailedShellCommandIsAnError: Gemini CLI records a shell command that
// exits non-zero as a "success" whose output ends in "Exit Code: N"; its
// span is an error saying the code, also in metadata mode (where the output
// is not kept).
func TestFailedShellCommandIsAnError(t *testing.T) {
	for _, drop := range []bool{false, true} {
		fc := loadFixture(t, "tool")
		for i, l := range fc.lines {
			fc.lines[i] = bytes.ReplaceAll(l, []byte(`Process Group PGID: 613`), []byte(`Exit Code: 3\nProcess Group PGID: 613`))
		}
		var tools []genai.Span
		for _, s := range backfill(fc, Options{DropContent: drop}) {
			if strings.HasPrefix(s.Name, "execute_tool") {
				tools = append(tools, s)
			}
		}
		if len(tools) != 1 {
			t.Fatalf("drop=%v: %d tool spans", drop, len(tools))
		}
		s := tools[0]
		if s.Status != genai.StatusError || s.StatusMessage != "exit code 3" || testkit.AttrMap(s)["gemini.tool.exit_code"] != "3" || testkit.AttrMap(s)["error.type"] != "tool_error" {
			t.Errorf("drop=%v: status %v %q, attrs %v", drop, s.Status, s.StatusMessage, testkit.AttrMap(s))
		}
	}
	// The fixture's command succeeded: no exit code line, no error.
	for _, s := range backfill(loadFixture(t, "tool"), Options{}) {
		if s.Status == genai.StatusError {
			t.Errorf("%s: error on a successful command", s.Name)
		}
	}
}

// TestToolHooksTimeTheirCalls: BeforeTool / AfterTool carry no call id;
// each call of a message takes the times of the oldest run of its name and
// arguments (spaced and ordered otherwise in the hook), in metadata mode of
// its name. A subagent's calls, run while the call that runs it does, are
// no call of the message, nor of a later one like them.
func TestToolHooksTimeTheirCalls(t *testing.T) {
	at := time.Date(2026, 12, 5, 14, 0, 0, 0, time.UTC)
	ts := func(ms int) string { return at.Add(time.Duration(ms) * time.Millisecond).Format(time.RFC3339Nano) }
	call := func(id, name, args string, ms int) string {
		return `{"id":"` + id + `","name":"` + name + `","args":` + args + `,"result":[],"status":"success","timestamp":"` + ts(ms) + `"}`
	}
	const ls, lsA, pwd = `{"command":"ls"}`, `{"command":"ls","description":"a"}`, `{"command":"pwd"}`
	type hook struct {
		before     bool
		name, args string
		ms         int
	}
	// Two messages: m1 with its calls and the runs its hooks saw, m2 with one ls.
	for _, c := range []struct {
		name  string
		calls string
		hooks []hook
		want  map[string][2]int
	}{{
		name:  "order, name and arguments",
		calls: call("a1", "run_shell_command", lsA, 1000) + "," + call("p", "run_shell_command", pwd, 1000) + "," + call("a2", "run_shell_command", lsA, 1000),
		hooks: []hook{
			{true, "run_shell_command", `{"description": "a", "command": "ls"}`, 200}, {false, "run_shell_command", lsA, 300},
			{true, "run_shell_command", pwd, 400}, {false, "run_shell_command", pwd, 500},
			{true, "run_shell_command", lsA, 600}, {false, "run_shell_command", lsA, 700}},
		want: map[string][2]int{"a1": {200, 300}, "p": {400, 500}, "a2": {600, 700}, "l": {1300, 1400}},
	}, {
		name:  "a subagent's calls",
		calls: `{"id":"sub","name":"invoke_agent","args":{"agent_name":"generalist"},"agentId":"ag1","status":"success","timestamp":"` + ts(1000) + `"},` + call("l1", "run_shell_command", ls, 1000),
		hooks: []hook{
			{true, "invoke_agent", `{"agent_name":"generalist"}`, 200},
			{true, "run_shell_command", ls, 300}, {false, "run_shell_command", ls, 400}, // the subagent's
			{true, "run_shell_command", pwd, 450}, {false, "run_shell_command", pwd, 460}, // the subagent's
			{false, "invoke_agent", `{"agent_name":"generalist"}`, 500},
			{true, "run_shell_command", ls, 600}, {false, "run_shell_command", ls, 700}},
		want: map[string][2]int{"sub": {200, 500}, "l1": {600, 700}, "l": {1300, 1400}},
	}} {
		for _, drop := range []bool{false, true} {
			b := New("s", Options{DropContent: drop})
			n := 0
			fire := func(h hook) {
				n++
				name := "AfterTool"
				if h.before {
					name = "BeforeTool"
				}
				b.Hook(transcript.Event{ID: fmt.Sprint(n), ReceivedAt: at.Add(time.Duration(h.ms) * time.Millisecond),
					Payload: []byte(`{"hook_event_name":"` + name + `","timestamp":"` + ts(h.ms) + `","tool_name":"` + h.name + `","tool_input":` + h.args + `}`)})
			}
			b.Line("", []byte(`{"id":"u1","timestamp":"`+ts(0)+`","type":"user","content":[{"text":"go"}]}`))
			b.Line("", []byte(`{"id":"m1","timestamp":"`+ts(100)+`","type":"gemini","content":"","model":"g"}`))
			for _, h := range c.hooks {
				fire(h)
			}
			b.Line("", []byte(`{"id":"m1","timestamp":"`+ts(100)+`","type":"gemini","content":"","model":"g","toolCalls":[`+c.calls+`]}`))
			b.Line("", []byte(`{"id":"r1","timestamp":"`+ts(1100)+`","type":"user","content":[{"functionResponse":{"id":"x","name":"run_shell_command","response":{"output":"x"}}}]}`))
			b.Line("", []byte(`{"id":"m2","timestamp":"`+ts(1200)+`","type":"gemini","content":"","model":"g"}`))
			fire(hook{true, "run_shell_command", ls, 1300})
			fire(hook{false, "run_shell_command", ls, 1400})
			b.Line("", []byte(`{"id":"m2","timestamp":"`+ts(1200)+`","type":"gemini","content":"","model":"g","toolCalls":[`+call("l", "run_shell_command", ls, 1500)+`]}`))
			b.Line("", []byte(`{"id":"r2","timestamp":"`+ts(1600)+`","type":"user","content":[{"functionResponse":{"id":"l","name":"run_shell_command","response":{"output":"x"}}}]}`))
			got := map[string][2]int{}
			for _, s := range b.Take() {
				if id := testkit.AttrMap(s)["gen_ai.tool.call.id"]; id != "" && strings.HasPrefix(s.Name, "execute_tool") {
					got[id] = [2]int{int(s.Start.Sub(at).Milliseconds()), int(s.End.Sub(at).Milliseconds())}
				}
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("%s, metadata mode %v: tool spans (ms) %v, want %v", c.name, drop, got, c.want)
			}
		}
	}
}

// TestToolHooksBeforeTheirLines: the daemon may apply BeforeTool and
// AfterTool before it reads the prompt of their turn (the prompt is written
// between two of our hooks); they still time the call. A run older than the
// latest turn (an inbox drained late) times nothing.
func TestToolHooksBeforeTheirLines(t *testing.T) {
	b := New("s", Options{})
	tool := func(name, ts string) {
		b.Hook(transcript.Event{ID: name + ts, Payload: []byte(`{"hook_event_name":"` + name + `","timestamp":"` + ts + `","tool_name":"ls","tool_input":{}}`)})
	}
	msg := func(prompt, model, call, at string) {
		b.Line("", []byte(`{"id":"`+prompt+`","timestamp":"`+at+`:00Z","type":"user","content":[{"text":"go"}]}`))
		b.Line("", []byte(`{"id":"`+model+`","timestamp":"`+at+`:01Z","type":"gemini","content":"","model":"g","toolCalls":[{"id":"`+call+`","name":"ls","args":{},"status":"success","timestamp":"`+at+`:09Z"}]}`))
		b.Line("", []byte(`{"id":"r`+call+`","timestamp":"`+at+`:10Z","type":"user","content":[{"functionResponse":{"id":"`+call+`","name":"ls","response":{"output":"x"}}}]}`))
	}
	tool("BeforeTool", "2026-12-05T14:00:02Z")
	tool("AfterTool", "2026-12-05T14:00:05Z")
	msg("u1", "m1", "c1", "2026-12-05T14:00")
	msg("u2", "m2", "c2", "2026-12-05T14:01")
	tool("BeforeTool", "2026-12-05T14:00:20Z") // stale
	tool("AfterTool", "2026-12-05T14:00:30Z")
	msg("u3", "m3", "c3", "2026-12-05T14:02")
	got := map[string]string{}
	for _, s := range b.Take() {
		if strings.HasPrefix(s.Name, "execute_tool") {
			got[testkit.AttrMap(s)["gen_ai.tool.call.id"]] = s.Start.Format("04:05") + "-" + s.End.Format("04:05")
		}
	}
	want := map[string]string{"c1": "00:02-00:05", "c2": "01:01-01:09", "c3": "02:01-02:09"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("tool spans %v, want %v", got, want)
	}
}
