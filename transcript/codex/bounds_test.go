package codex

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/weave-agentd/weave-agentd/internal/testkit"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// TestBadLinesSkippedAndCounted: garbage, a line that is no record and an
// oversized line are skipped and counted, a record of an unknown type is
// ignored; none changes the spans of the lines around them.
func TestBadLinesSkippedAndCounted(t *testing.T) {
	fx := loadFixture(t, "tool")
	want := canonical(runLines(fx.session, Options{}, fx.path, fx.lines))
	bad := [][]byte{
		[]byte("not json"), []byte(`{}`), []byte(`[1,2]`), []byte(`{"type":"event_msg"}`), []byte(`{"timestamp":"x"`),
		bytes.Repeat([]byte("x"), transcript.MaxLine+1),
	}
	ignored := []byte(`{"timestamp":"2026-12-05T14:03:42.200Z","type":"future_record","payload":{"turn_id":"01a24684-8e93-7b40-bb07-0eb2c734d154"}}`)
	var lines [][]byte
	for _, l := range fx.lines {
		lines = append(lines, l)
		lines = append(lines, bad...)
	}
	lines = append(lines[:len(lines)-len(bad)], ignored) // after the last line: it would extend the turn
	b := New(fx.session, Options{})
	for _, l := range lines {
		b.Line(fx.path, l)
	}
	settle(b)
	if got := canonical(b.Take()); got != want {
		t.Errorf("bad lines changed the spans:\n%s", testkit.LineDiff(want, got))
	}
	st := b.Stats()
	if wantSkipped := int64(len(bad) * (len(fx.lines) - 1)); st.SkippedLines != wantSkipped || st.Lines != int64(len(lines)) {
		t.Errorf("lines %d skipped %d, want %d and %d", st.Lines, st.SkippedLines, len(lines), wantSkipped)
	}
}

const turnStart = `{"timestamp":"2026-12-05T14:00:00.000Z","type":"event_msg","payload":{"type":"task_started","turn_id":"t%d"}}`

// One 30 MB line with 900,000 content blocks keeps what it takes
// bounded, besides the line itself (held by the daemon's reader): the
// answer is cut at maxText with a marker, the line counted as truncated.
func TestALineWithManyContentBlocksKeepsTheHeapBounded(t *testing.T) {
	const n = 900_000
	parts := []string{`{"timestamp":"2026-12-05T14:00:01.000Z","type":"response_item","payload":{"type":"message","role":"assistant","content":[`,
		strings.TrimSuffix(strings.Repeat(`{"type":"output_text","text":"a"},`, n), ","), `]}}`}
	line := testkit.OffHeap(t, parts...)
	parts = nil
	stop := testkit.HeapPeak(64 << 20)
	b := New("s", Options{})
	b.Line("", fmt.Appendf(nil, turnStart, 1))
	b.Line("", line)
	peak, _ := stop()
	t.Logf("%d MB line: heap peak %d MiB besides it", len(line)>>20, peak>>20)
	if peak > 48<<20 {
		t.Errorf("a line with 900,000 content blocks took the heap to %d MiB besides the line", peak>>20)
	}
	if got := b.Stats().TruncatedLines; got != 1 {
		t.Errorf("TruncatedLines = %d, want 1", got)
	}
	tr := b.turn("t1")
	if tr == nil || len(tr.Answer) > maxText+64 || !strings.HasSuffix(tr.Answer, "bytes not kept]") {
		t.Fatalf("the answer keeps %d bytes, want at most %d and a marker", len(tr.Answer), maxText)
	}
}

// TestStateStaysBounded: a turn with ten thousand tool calls that never
// get their output, and a session of a thousand turns, keep a bounded
// state.
func TestStateStaysBounded(t *testing.T) {
	b := New("s", Options{})
	b.Line("", fmt.Appendf(nil, turnStart, 0))
	for i := range 10_000 {
		b.Line("", fmt.Appendf(nil, `{"timestamp":"2026-12-05T14:00:01.000Z","type":"response_item","payload":{"type":"function_call","name":"exec_command","arguments":"{\"cmd\":\"%s\"}","call_id":"c%d"}}`, strings.Repeat("x", 1000), i))
	}
	tr := b.turn("t0")
	if len(tr.Tools) > maxTools || len(tr.Call.Parts) > maxParts || tr.Call.Bytes > maxCallBytes {
		t.Errorf("one turn keeps %d tool calls and %d parts (%d bytes)", len(tr.Tools), len(tr.Call.Parts), tr.Call.Bytes)
	}
	if b.Stats().TruncatedLines == 0 {
		t.Error("nothing counted as truncated")
	}
	for i := 1; i <= 1000; i++ {
		b.Line("", fmt.Appendf(nil, turnStart, i))
		b.Line("", fmt.Appendf(nil, `{"timestamp":"2026-12-05T14:00:02.000Z","type":"event_msg","payload":{"type":"item_completed","turn_id":"t%d","item":{"type":"UserMessage","content":[{"type":"text","text":"%s"}]}}}`, i, strings.Repeat("p", 10_000)))
		b.Line("", fmt.Appendf(nil, `{"timestamp":"2026-12-05T14:00:03.000Z","type":"event_msg","payload":{"type":"task_complete","turn_id":"t%d","last_agent_message":"%s"}}`, i, strings.Repeat("a", 10_000)))
		b.Take()
	}
	st, err := b.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	if len(b.st.Turns) > maxClosedTurns || len(st) > 64<<10 {
		t.Errorf("after 1000 turns the state keeps %d turns in %d bytes", len(b.st.Turns), len(st))
	}
}

// TestAMultiAgentItemNamingAMillionThreadsKeepsTheHeapBounded: the
// thread lists and states of one multi_agent_v1 item (~20 MB lines) are
// decoded only as far as a turn keeps subagents.
func TestAMultiAgentItemNamingAMillionThreadsKeepsTheHeapBounded(t *testing.T) {
	const head = `{"timestamp":"2026-12-05T14:00:01.000Z","type":"event_msg","payload":{"type":"item_completed","turn_id":"t1","item":{"type":"CollabAgentToolCall","id":"c1",`
	for name, parts := range map[string]func() []string{
		"receiver_thread_ids": func() []string {
			return []string{head, `"tool":"spawn_agent","receiver_thread_ids":[`,
				strings.TrimSuffix(strings.Repeat(`"abcdefgh",`, 1_800_000), ","), `]}}}`}
		},
		"receiver_agents": func() []string {
			return []string{head, `"tool":"spawn_agent","receiver_thread_ids":["a"],"receiver_agents":[`,
				strings.TrimSuffix(strings.Repeat(`{"thread_id":"a","agent_nickname":"b"},`, 600_000), ","), `]}}}`}
		},
		"agents_states": func() []string {
			var sb strings.Builder
			for i := range 1_000_000 {
				fmt.Fprintf(&sb, `"k%d":"pending_init",`, i)
			}
			return []string{head, `"tool":"wait","agents_states":{`, strings.TrimSuffix(sb.String(), ","), `}}}}`}
		},
	} {
		t.Run(name, func(t *testing.T) {
			line := testkit.OffHeap(t, parts()...)
			stop := testkit.HeapPeak(64 << 20)
			b := New("s", Options{})
			b.Line("", fmt.Appendf(nil, turnStart, 1))
			b.Line("", line)
			peak, _ := stop()
			t.Logf("%d MB line: heap peak %d MiB besides it", len(line)>>20, peak>>20)
			if peak > 48<<20 {
				t.Errorf("a line naming a million threads in %s took the heap to %d MiB besides the line", name, peak>>20)
			}
		})
	}
}
