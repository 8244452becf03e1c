package gemini

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/internal/testkit"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// FuzzGeminiLine feeds an arbitrary line into a session (after a prompt,
// twice: a rewrite, and after the turn), with hooks around it. Every input
// keeps the invariants: no panic, no span twice, usage on chat spans only,
// sane times, and a state that survives a round trip unchanged.
func FuzzGeminiLine(f *testing.F) {
	if fx, ok := testkit.FixturesOK(); ok {
		chats, _ := filepath.Glob(filepath.Join(fx, fixtureDir, "*", "session-*.jsonl"))
		for _, c := range chats {
			for _, l := range testkit.ReadLines(f, c) {
				f.Add(l)
			}
		}
	}
	f.Add([]byte(`{"id":"m","timestamp":"x","type":"gemini","content":[{"text":"a"},{"inlineData":{"mimeType":"image/png","data":"AA=="}}],"tokens":{"input":-1,"total":1e3}}`))
	f.Add([]byte(`{"id":"u","type":"user","content":{"text":"p"},"timestamp":"2026-12-05T14:00:00Z"}`))
	f.Add([]byte(`{"$set":{"messages":[{"id":"u"}]}}`))
	f.Add([]byte(`{"id":"m","type":"gemini","toolCalls":[{"name":"x","args":"s","result":"r","status":"error"},{}]}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		b := New("s", Options{TranscriptPath: "/h/.gemini/tmp/p/chats/session-x.jsonl"})
		at := time.Date(2026, 12, 5, 14, 0, 0, 0, time.UTC)
		b.Tick(at)
		b.Line("", []byte(`{"id":"u0","timestamp":"2026-12-05T14:00:00Z","type":"user","content":[{"text":"p"}]}`))
		b.Line("", line)
		b.Line("", line)
		b.Hook(transcript.Event{ID: "1", ReceivedAt: at, Payload: []byte(`{"hook_event_name":"AfterAgent","timestamp":"2026-12-05T14:00:01Z"}`)})
		b.Hook(transcript.Event{ID: "2", ReceivedAt: at, Payload: line})
		b.Line("", line)
		spans := b.Take()
		settle(b)
		spans = append(spans, b.Take()...)
		checkSpans(t, "s", spans)
		st, err := b.MarshalState()
		if err != nil {
			t.Fatal(err)
		}
		b2 := New("s", Options{})
		if err := b2.RestoreState(st); err != nil {
			t.Fatal(err)
		}
		st2, err := b2.MarshalState()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(st, st2) {
			t.Fatalf("state changes across a round trip:\n%s\n%s", st, st2)
		}
	})
}
