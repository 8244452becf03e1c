package codex

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/hooks"
	"github.com/weave-agentd/weave-agentd/internal/testkit"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// spanUsage sums gen_ai.usage.* over spans, as a backend rolls them up,
// and reports usage on any span but a chat.
func spanUsage(t *testing.T, spans []genai.Span) testkit.Usage {
	t.Helper()
	for _, s := range spans {
		op := testkit.AttrMap(s)["gen_ai.operation.name"]
		for _, kv := range s.Attrs {
			if strings.HasPrefix(string(kv.Key), "gen_ai.usage.") && op != "chat" {
				t.Errorf("%s (%s) carries %s: usage lives on chat spans only", s.Name, op, kv.Key)
			}
		}
	}
	return testkit.SumUsage(spans, nil)
}

// recordUsage sums the usage of every token_usage_record line, read
// independently of the builder.
func recordUsage(t *testing.T, lines [][]byte) (testkit.Usage, int) {
	var u testkit.Usage
	n := 0
	for _, l := range lines {
		var r struct {
			Type    string `json:"type"`
			Payload struct {
				Usage map[string]int64 `json:"usage"`
			} `json:"payload"`
		}
		if json.Unmarshal(l, &r) != nil || r.Type != "token_usage_record" {
			continue
		}
		n++
		u.Input += r.Payload.Usage["input_tokens"]
		u.Output += r.Payload.Usage["output_tokens"]
		u.CacheRead += r.Payload.Usage["cached_input_tokens"]
		u.CacheCreation += r.Payload.Usage["cache_write_input_tokens"]
		u.Reasoning += r.Payload.Usage["reasoning_output_tokens"]
	}
	return u, n
}

// execTotal is Codex's own total for the run: the usage of turn.completed
// in `codex exec --json`'s output.
func execTotal(t *testing.T, name string) testkit.Usage {
	var u testkit.Usage
	for _, l := range testkit.ReadLines(t, filepath.Join(testkit.Fixtures(t), "codex-0.171.0", name, "exec_stdout.jsonl")) {
		var ev struct {
			Type  string           `json:"type"`
			Usage map[string]int64 `json:"usage"`
		}
		if json.Unmarshal(l, &ev) == nil && ev.Type == "turn.completed" {
			u.Input += ev.Usage["input_tokens"]
			u.Output += ev.Usage["output_tokens"]
			u.CacheRead += ev.Usage["cached_input_tokens"]
			u.CacheCreation += ev.Usage["cache_write_input_tokens"]
			u.Reasoning += ev.Usage["reasoning_output_tokens"]
		}
	}
	return u
}

// TestUsageSums: the usage summed over the spans of a conversation equals
// the sum of its token_usage_records and Codex's own total, with one chat
// span per record.
func TestUsageSums(t *testing.T) {
	for _, name := range fixtureNames {
		t.Run(name, func(t *testing.T) {
			fx := loadFixture(t, name)
			spans := runLines(fx.session, Options{}, fx.path, fx.lines)
			got := spanUsage(t, spans)
			want, records := recordUsage(t, fx.lines)
			if got != want {
				t.Errorf("usage over spans %+v, over token_usage_records %+v", got, want)
			}
			if own := execTotal(t, name); got != own {
				t.Errorf("usage over spans %+v, Codex's own total %+v", got, own)
			}
			chats := 0
			for _, s := range spans {
				if testkit.AttrMap(s)["gen_ai.operation.name"] == "chat" {
					chats++
				}
			}
			if chats != records || records == 0 {
				t.Errorf("%d chat spans for %d token_usage_records", chats, records)
			}
		})
	}
}

// resumed is one session of two turns in one file, as `codex exec resume`
// appends to the rollout: the text capture, then the tool capture's lines
// (its session_meta too) under the text capture's session id.
func resumed(t *testing.T) fixture {
	text, tool := loadFixture(t, "text"), loadFixture(t, "tool")
	fx := text
	fx.lines = append([][]byte(nil), text.lines...)
	for _, l := range tool.lines {
		fx.lines = append(fx.lines, bytes.ReplaceAll(l, []byte(tool.session), []byte(text.session)))
	}
	return fx
}

// TestResumeSecondTurn: a second turn appended to the same file is its own
// trace, numbered 2, in the same conversation (named by the first prompt),
// with its own model and tool spans; the system instructions are not sent
// again when unchanged; usage still sums.
func TestResumeSecondTurn(t *testing.T) {
	fx := resumed(t)
	spans := runLines(fx.session, Options{TranscriptPath: fx.path}, fx.path, fx.lines)
	testkit.CheckNoDuplicates(t, spans)
	var turns []map[string]string
	traces := map[genai.TraceID]int{}
	for _, s := range spans {
		a := testkit.AttrMap(s)
		traces[s.TraceID]++
		if a["gen_ai.conversation.id"] != fx.session || a["gen_ai.conversation.name"] != "Say hello" {
			t.Errorf("%s: conversation %q %q", s.Name, a["gen_ai.conversation.id"], a["gen_ai.conversation.name"])
		}
		if a["gen_ai.operation.name"] == "invoke_agent" {
			turns = append(turns, a)
		}
	}
	if len(turns) != 2 || len(traces) != 2 {
		t.Fatalf("%d turn spans in %d traces, want 2 and 2", len(turns), len(traces))
	}
	if turns[0]["codex.turn.ordinal"] != "1" || turns[1]["codex.turn.ordinal"] != "2" {
		t.Errorf("ordinals %s, %s", turns[0]["codex.turn.ordinal"], turns[1]["codex.turn.ordinal"])
	}
	if !strings.Contains(turns[1]["gen_ai.input.messages"], "List the files here") || turns[1]["codex.cwd"] != "/home/dev/work-codex-tool" {
		t.Errorf("second turn: prompt %s cwd %s", turns[1]["gen_ai.input.messages"], turns[1]["codex.cwd"])
	}
	if turns[0]["gen_ai.system_instructions"] == "" {
		t.Error("the first turn carries no system instructions")
	}
	if same := turns[1]["gen_ai.system_instructions"] == ""; same != (instructions(t, "text") == instructions(t, "tool")) {
		t.Errorf("second turn repeats the system instructions: %v, though they changed: %v", !same, !same)
	}
	want, _ := recordUsage(t, fx.lines)
	if got := spanUsage(t, spans); got != want {
		t.Errorf("usage over spans %+v, over records %+v", got, want)
	}
	// Read as two tail reads with a restart between them: the same spans.
	if got := runSplit(t, fx, Options{TranscriptPath: fx.path}, len(loadFixture(t, "text").lines)); canonical(got) != canonical(spans) {
		t.Errorf("restart between the turns changes the spans:\n%s", testkit.LineDiff(canonical(spans), canonical(got)))
	}
}

func instructions(t *testing.T, name string) string {
	fx := loadFixture(t, name)
	var r struct {
		Payload struct {
			BaseInstructions struct {
				Text string `json:"text"`
			} `json:"base_instructions"`
		} `json:"payload"`
	}
	if err := json.Unmarshal(fx.lines[0], &r); err != nil {
		t.Fatal(err)
	}
	return r.Payload.BaseInstructions.Text
}

// runSplit feeds lines[:k], persists the state, restores it into a fresh
// builder and feeds the rest.
func runSplit(t *testing.T, fx fixture, opts Options, k int) []genai.Span {
	a := New(fx.session, opts)
	for _, l := range fx.lines[:k] {
		a.Line(fx.path, l)
	}
	out := a.Take()
	st, err := a.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	b := New(fx.session, opts)
	if err := b.RestoreState(st); err != nil {
		t.Fatal(err)
	}
	for _, l := range fx.lines[k:] {
		b.Line(fx.path, l)
	}
	settle(b)
	return append(out, b.Take()...)
}

// TestDeterminism: the same input gives byte-identical spans, and so does
// a restart (state persisted and restored) at every line boundary.
func TestDeterminism(t *testing.T) {
	cases := map[string]func(t *testing.T) fixture{"resumed": resumed}
	for _, name := range fixtureNames {
		cases[name] = func(t *testing.T) fixture { return loadFixture(t, name) }
	}
	for name, load := range cases {
		t.Run(name, func(t *testing.T) {
			fx := load(t)
			opts := Options{TranscriptPath: fx.path}
			want := canonical(runLines(fx.session, opts, fx.path, fx.lines))
			if got := canonical(runLines(fx.session, opts, fx.path, fx.lines)); got != want {
				t.Fatal("two runs over the same input differ")
			}
			for k := 0; k <= len(fx.lines); k++ {
				got := runSplit(t, fx, opts, k)
				testkit.CheckNoDuplicates(t, got)
				if canonical(got) != want {
					t.Fatalf("restart after line %d changes the spans:\n%s", k, testkit.LineDiff(want, canonical(got)))
				}
			}
		})
	}
}

// stopAt is the index of the capture's Stop hook.
func stopAt(t *testing.T, fx fixture) int {
	for i, h := range fx.hooks {
		if h.event == "Stop" {
			return i
		}
	}
	t.Fatal("no Stop hook in the capture")
	return 0
}

// TestStopBeforeTaskComplete: Codex runs the Stop hook one line before the
// turn's task_complete. The turn waits for that line (its span then ends
// there); when it never comes (Codex killed), the turn is sent StopWait
// after Stop, ending at its last record; SessionEnd does the same.
func TestStopBeforeTaskComplete(t *testing.T) {
	for _, name := range fixtureNames {
		t.Run(name, func(t *testing.T) {
			fx := loadFixture(t, name)
			stop := fx.hooks[stopAt(t, fx)]
			last := fx.lines[len(fx.lines)-1]
			if !bytes.Contains(last, []byte(`"task_complete"`)) || stop.lines != len(fx.lines)-1 {
				t.Fatalf("the capture no longer has Stop one line before task_complete (Stop saw %d of %d lines)", stop.lines, len(fx.lines))
			}
			_, completeAt, _ := parseLine(last)
			_, lastRecord, _ := parseLine(fx.lines[len(fx.lines)-2])
			t0 := time.Date(2026, 12, 5, 15, 0, 0, 0, time.UTC)
			feed := func(b *Builder, hookName string) {
				b.Tick(t0)
				for _, l := range fx.lines[:stop.lines] {
					b.Line(fx.path, l)
				}
				b.Hook(transcript.Event{Name: hookName, ReceivedAt: t0, Payload: stop.payload})
				if hookName == "SessionEnd" {
					b.Hook(transcript.Event{Name: hookName, ReceivedAt: t0, Payload: []byte(`{"hook_event_name":"SessionEnd"}`)})
				}
			}
			turnSpan := func(spans []genai.Span) *genai.Span {
				for i := range spans {
					if testkit.AttrMap(spans[i])["gen_ai.operation.name"] == "invoke_agent" {
						return &spans[i]
					}
				}
				return nil
			}

			b := New(fx.session, Options{TranscriptPath: fx.path})
			feed(b, "Stop")
			b.Tick(t0.Add(time.Second))
			if s := turnSpan(b.Take()); s != nil || b.Idle() {
				t.Fatalf("turn sent (or idle) before its task_complete and before StopWait: %v", s != nil)
			}
			b.Line(fx.path, last)
			s := turnSpan(b.Take())
			if s == nil || !s.End.Equal(completeAt) || s.Status != genai.StatusUnset || !b.Idle() {
				t.Fatalf("task_complete after Stop: turn span sent %v, want it ending at %v", s != nil, completeAt)
			}

			for _, hook := range []string{"Stop", "SessionEnd"} {
				b = New(fx.session, Options{TranscriptPath: fx.path})
				feed(b, hook)
				b.Tick(t0.Add(defaultStopWait - time.Millisecond))
				if s := turnSpan(b.Take()); s != nil {
					t.Fatalf("%s: turn sent before StopWait", hook)
				}
				b.Tick(t0.Add(defaultStopWait))
				s = turnSpan(b.Take())
				if s == nil || !s.End.Equal(lastRecord) {
					t.Fatalf("%s and no task_complete: turn span sent %v, want it sent after StopWait, ending at %v", hook, s != nil, lastRecord)
				}
				b.Line(fx.path, last) // the line comes after all: nothing twice
				if spans := b.Take(); len(spans) != 0 {
					t.Fatalf("%s: %d spans again from a late task_complete", hook, len(spans))
				}
			}
		})
	}
}

// TestNextTurnFinishesTheOpenOne: a turn without task_complete (Codex
// killed, then resumed) ends when the next one starts.
func TestNextTurnFinishesTheOpenOne(t *testing.T) {
	fx := resumed(t)
	text := len(loadFixture(t, "text").lines)
	lines := append(append([][]byte(nil), fx.lines[:text-1]...), fx.lines[text:]...) // no first task_complete
	b := New(fx.session, Options{TranscriptPath: fx.path})
	for _, l := range lines {
		b.Line(fx.path, l)
	}
	turns := 0
	for _, s := range b.Take() {
		if testkit.AttrMap(s)["gen_ai.operation.name"] == "invoke_agent" {
			turns++
		}
	}
	if turns != 2 || !b.Idle() {
		t.Fatalf("%d turn spans without any timeout, idle %v; want 2, idle", turns, b.Idle())
	}
}

// TestMetadataModeState: with DropContent no prompt, answer, reasoning,
// tool input or output, nor the system instructions, is in the persisted
// state at any point, and the conversation is named by project and date.
func TestMetadataModeState(t *testing.T) {
	secrets := []string{"Say hello", "List the files here", "MOCK_", "yield_time_ms", "You are a coding agent"}
	for _, name := range fixtureNames {
		t.Run(name, func(t *testing.T) {
			fx := loadFixture(t, name)
			b := New(fx.session, Options{TranscriptPath: fx.path, DropContent: true})
			var spans []genai.Span
			check := func(after string) {
				spans = append(spans, b.Take()...)
				st, err := b.MarshalState()
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range secrets {
					if bytes.Contains(st, []byte(s)) {
						t.Fatalf("after %s the state holds %q", after, s)
					}
				}
			}
			hook := 0
			for i, l := range fx.lines {
				for ; hook < len(fx.hooks) && fx.hooks[hook].lines <= i; hook++ {
					b.Hook(transcript.Event{Name: fx.hooks[hook].event, Payload: fx.hooks[hook].payload})
					check(fx.hooks[hook].event)
				}
				b.Line(fx.path, l)
				check(fmt.Sprintf("line %d", i+1))
			}
			want := "work-codex-" + name + " · 2026-12-05"
			for _, s := range spans {
				if got := testkit.AttrMap(s)["gen_ai.conversation.name"]; got != want {
					t.Fatalf("%s named %q, want %q", s.Name, got, want)
				}
			}
			if len(spans) == 0 {
				t.Fatal("no spans")
			}
		})
	}
}

// TestHookPayloadsDetectedAsCodex: every payload Codex sent, given to the
// hook client without an agent name (as our hook command is registered),
// is told to be Codex's, and maps to this agent.
func TestHookPayloadsDetectedAsCodex(t *testing.T) {
	for _, name := range fixtureNames {
		fx := loadFixture(t, name)
		for _, h := range fx.hooks {
			for _, named := range []string{"", hooks.AgentCodex} {
				agent, c := hooks.Detect(h.payload, named)
				if agent != hooks.AgentCodex || c.Session() != fx.session {
					t.Errorf("%s %s (named %q): agent %q session %q", name, h.event, named, agent, c.Session())
				}
				if a, ok := transcript.AgentNamed(agent); !ok || a.Name() != genai.AgentCodex {
					t.Errorf("hook agent %q is not the codex agent", agent)
				}
				if out := hooks.Answer(agent, h.event, "exports failing"); len(out) != 0 {
					t.Errorf("%s: the hook prints %q; Codex CLI needs nothing", h.event, out)
				}
			}
		}
	}
}

// TestLateLinesLandInTheirTurn: a turn sent by a timeout before its lines
// were read (a daemon behind on the file when Stop came; a command running
// past IdleTimeout) still gets its model and tool calls, with their
// content, in its trace; its task_complete then completes it.
func TestLateLinesLandInTheirTurn(t *testing.T) {
	fx := loadFixture(t, "tool")
	want := map[string]string{}
	for _, s := range runLines(fx.session, Options{}, fx.path, fx.lines) {
		if testkit.AttrMap(s)["gen_ai.operation.name"] != "invoke_agent" {
			want[s.SpanID.String()] = testkit.SpanString(s)
		}
	}
	prompted := fx.hooks[1].lines + 1 // UserPromptSubmit, then the prompt's UserMessage item
	t0 := time.Date(2026, 12, 5, 15, 0, 0, 0, time.UTC)
	for _, timeout := range []string{"Stop", "idle"} {
		t.Run(timeout, func(t *testing.T) {
			b := New(fx.session, Options{})
			b.Tick(t0)
			for _, l := range fx.lines[:prompted+1] {
				b.Line(fx.path, l)
			}
			now := t0.Add(defaultIdleTimeout)
			if timeout == "Stop" {
				b.Hook(transcript.Event{Name: "Stop", ReceivedAt: t0, Payload: fx.hooks[stopAt(t, fx)].payload})
				now = t0.Add(defaultStopWait)
			}
			b.Tick(now)
			if spans := b.Take(); len(spans) != 1 || b.Idle() {
				t.Fatalf("%d spans after the timeout, idle %v; want the turn span alone, not idle", len(spans), b.Idle())
			}
			for _, l := range fx.lines[prompted+1:] {
				b.Line(fx.path, l)
			}
			got := map[string]string{}
			for _, s := range b.Take() {
				got[s.SpanID.String()] = testkit.SpanString(s)
			}
			for id, w := range want {
				if got[id] != w {
					t.Errorf("late span %s:\n%s", id, testkit.LineDiff(w, got[id]))
				}
			}
			if len(got) != len(want) || !b.Idle() {
				t.Errorf("%d late spans, want %d; idle %v after task_complete", len(got), len(want), b.Idle())
			}
		})
	}
}

// TestPromptFromTheHookWhenLinesLag: a turn sent by the Stop timeout
// before its prompt's line was read still carries the prompt, from the
// UserPromptSubmit hook — also when that hook came before the turn's first
// line — and names the conversation by it.
func TestPromptFromTheHookWhenLinesLag(t *testing.T) {
	fx := loadFixture(t, "tool")
	submit, stop := fx.hooks[1], fx.hooks[stopAt(t, fx)]
	t0 := time.Date(2026, 12, 5, 15, 0, 0, 0, time.UTC)
	for name, before := range map[string]int{"before the turn's lines": 0, "before its prompt's line": submit.lines} {
		t.Run(name, func(t *testing.T) {
			b := New(fx.session, Options{TranscriptPath: fx.path})
			b.Tick(t0)
			for _, l := range fx.lines[:before] {
				b.Line(fx.path, l)
			}
			b.Hook(transcript.Event{Name: "UserPromptSubmit", ReceivedAt: t0, Payload: submit.payload})
			for _, l := range fx.lines[before:submit.lines] {
				b.Line(fx.path, l)
			}
			b.Hook(transcript.Event{Name: "Stop", ReceivedAt: t0, Payload: stop.payload})
			b.Tick(t0.Add(defaultStopWait))
			spans := b.Take()
			if len(spans) != 1 {
				t.Fatalf("%d spans, want the turn span", len(spans))
			}
			a := testkit.AttrMap(spans[0])
			if !strings.Contains(a["gen_ai.input.messages"], "List the files here") || a["gen_ai.conversation.name"] != "List the files here" {
				t.Errorf("prompt %q, conversation %q", a["gen_ai.input.messages"], a["gen_ai.conversation.name"])
			}
		})
	}
}
