package cursor

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/transcript"

	"github.com/weave-agentd/weave-agentd/internal/testkit"
)

func fuzzSeeds(f *testing.F) (payloads, lines [][]byte) {
	files, _ := filepath.Glob(filepath.Join("testdata", "schema", "*.json"))
	if fx, ok := testkit.FixturesOK(); ok {
		more, _ := filepath.Glob(filepath.Join(fx, cursorFixtures, "*.json"))
		files = append(files, more...)
	}
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			payloads = append(payloads, b)
		}
	}
	for _, p := range []string{"session.jsonl", "session.txt"} {
		if b, err := os.ReadFile(filepath.Join("testdata", "transcripts", p)); err == nil {
			lines = append(lines, bytes.Split(b, []byte("\n"))...)
		}
	}
	payloads = append(payloads, []byte(`{"hook_event_name":"postToolUse","duration":"12.5","tool_input":"{\"a\":1}","edits":{},"model_params":7}`),
		[]byte(`{"hook_event_name":"subagentStop","duration_ms":-1e308,"status":null}`), []byte("\xef\xbb\xbf{}"), []byte("null"), []byte("[]"))
	return payloads, lines
}

// fuzzCheck runs the invariants every input must keep: no panic (implicit),
// no token usage, no span twice, sane times, and a state that survives a
// round trip unchanged.
func fuzzCheck(t *testing.T, b *Builder, spans []genai.Span) {
	settle(b, base)
	spans = append(spans, b.Take()...)
	testkit.CheckNoDuplicates(t, spans)
	checkInvariants(t, b.conv, spans)
	st, err := b.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	b2 := New(b.conv, b.opts)
	if err := b2.RestoreState(st); err != nil {
		t.Fatal(err)
	}
	st2, err := b2.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(st, st2) {
		t.Fatal("state changes across a round trip")
	}
}

// FuzzHook feeds an arbitrary payload (as a hook event of an open turn,
// twice, and as a headless one) and an arbitrary transcript line.
func FuzzHook(f *testing.F) {
	payloads, lines := fuzzSeeds(f)
	for i, p := range payloads {
		f.Add(p, lines[i%len(lines)], "")
	}
	f.Add([]byte(`{"hook_event_name":"stop"}`), []byte(`{"type":"turn_ended"}`), "stop")
	f.Fuzz(func(t *testing.T, payload, line []byte, name string) {
		for _, gen := range []string{"g1", "conv"} {
			b := New("conv", Options{TranscriptPath: "/t/conv.jsonl", TranscriptWait: time.Second})
			var spans []genai.Span
			ev := func(id string, at time.Time, p []byte) {
				b.Hook(transcript.Event{ID: id, Agent: genai.AgentCursor, Name: name, ReceivedAt: at, Payload: p})
				spans = append(spans, b.Take()...)
			}
			ev("1", base, []byte(`{"hook_event_name":"beforeSubmitPrompt","conversation_id":"conv","generation_id":"`+gen+`","prompt":"p"}`))
			ev("2", base.Add(time.Second), payload)
			ev("3", base.Add(time.Second), payload)   // an imported copy
			ev("4", base.Add(24*time.Hour), payload)  // a late replay
			ev("5", time.Time{}, payload)             // no receive time
			ev("6", base.Add(-24*time.Hour), payload) // clock went back
			b.Line("/t/conv.jsonl", line)
			b.Tick(base.Add(2 * time.Second))
			ev("7", base.Add(3*time.Second), []byte(`{"hook_event_name":"stop","conversation_id":"conv","generation_id":"`+gen+`","status":"completed"}`))
			spans = append(spans, b.Take()...)
			fuzzCheck(t, b, spans)
		}
	})
}

// FuzzLine feeds arbitrary transcript content, as JSONL and as the old
// text format, around a hook turn that wants it.
func FuzzLine(f *testing.F) {
	_, lines := fuzzSeeds(f)
	for _, l := range lines {
		f.Add(l)
	}
	f.Add([]byte("user:\n<user_query>\nq\n</user_query>\nassistant:\n[Tool call] Shell\n  command: ls\n[Tool result] Shell\nx\n\nanswer"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, path := range []string{"/t/conv.jsonl", "/t/conv.txt"} {
			b := New("conv", Options{TranscriptPath: path})
			b.Hook(transcript.Event{ID: "1", ReceivedAt: base, Payload: []byte(`{"hook_event_name":"sessionStart","conversation_id":"conv","generation_id":"conv"}`)})
			b.Hook(transcript.Event{ID: "2", ReceivedAt: base.Add(time.Second), Payload: []byte(`{"hook_event_name":"afterShellExecution","conversation_id":"conv","generation_id":"conv","command":"ls","duration":3}`)})
			for _, l := range bytes.Split(data, []byte("\n")) {
				b.Line(path, l)
			}
			b.Hook(transcript.Event{ID: "3", ReceivedAt: base.Add(2 * time.Second), Payload: []byte(`{"hook_event_name":"sessionEnd","conversation_id":"conv","generation_id":"conv"}`)})
			for _, l := range bytes.Split(data, []byte("\n")) {
				b.Line(path, l)
			}
			fuzzCheck(t, b, b.Take())
		}
	})
}

func TestOddNumbers(t *testing.T) {
	b := New("conv", Options{})
	for i, d := range []string{`"NaN"`, `"Inf"`, `"-Inf"`, `"1e400"`, `1e308`, `-5`, `"12.5"`} {
		b.Hook(transcript.Event{ID: string(rune('a' + i)), ReceivedAt: base, Payload: []byte(`{"hook_event_name":"postToolUse","conversation_id":"conv","generation_id":"g","tool_name":"X","tool_use_id":"t` + d + `","duration":` + d + `,"loop_count":` + d + `}`)})
	}
	fuzzCheck(t, b, b.Take())
}
