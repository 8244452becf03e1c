package gemini

import (
	"strings"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/transcript"
)

// TestSlowToolKeepsTheTurnOpen: while a tool runs, the chat file's latest
// model message is the tool call's first copy, written without its
// toolCalls, which looks like a final answer. A tool that runs longer than
// StopWait (BeforeTool seen, its AfterTool not yet) must not end the turn:
// the turn span would go out without its answer (found by the e2e test
// with the real Gemini CLI and a `sleep 3` command).
func TestSlowToolKeepsTheTurnOpen(t *testing.T) {
	fc := loadFixture(t, "tool")
	var before, after hookRecord
	for _, h := range fc.hooks {
		switch h.Event {
		case "BeforeTool":
			before = h
		case "AfterTool":
			after = h
		}
	}
	at := time.Unix(0, int64(before.TS*1e9)).UTC()
	b := New(fc.session, Options{TranscriptPath: fc.chat})
	b.Tick(at)
	for _, l := range fc.lines[:before.At.Lines] {
		b.Line(fc.chat, l)
	}
	b.Hook(transcript.Event{ID: "1", Name: "BeforeTool", ReceivedAt: at, Payload: before.Payload})
	b.Tick(at.Add(time.Minute)) // the tool still runs
	if got := b.Take(); len(got) != 0 {
		t.Fatalf("the turn ended while its tool ran:\n%s", renderTree("", got))
	}
	done := at.Add(time.Minute)
	b.Hook(transcript.Event{ID: "2", Name: "AfterTool", ReceivedAt: done, Payload: after.Payload})
	for _, l := range fc.lines[before.At.Lines:] {
		b.Line(fc.chat, l)
	}
	b.Tick(done.Add(defaultStopWait))
	var turn map[string]string
	for _, s := range b.Take() {
		if s.Name == "invoke_agent gemini-cli" {
			turn = attrMap(s)
		}
	}
	if turn == nil || !strings.Contains(turn["gen_ai.output.messages"], "MOCK_FINAL_ANSWER") {
		t.Fatalf("turn span after the tool: %v", turn)
	}
}
