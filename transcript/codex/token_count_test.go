package codex

import (
	"encoding/json"
	"testing"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/internal/testkit"
)

// withoutRecords is a capture as a Codex version without
// token_usage_record writes it: those lines gone, each token_count written
// twice (as real older rollouts have it); want are the records' usages.
func withoutRecords(t *testing.T, fx fixture) (fixture, []usage) {
	t.Helper()
	var want []usage
	lines := [][]byte{}
	for _, l := range fx.lines {
		r, _, err := parseLine(l)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case r.Type == "token_usage_record":
			want = append(want, *r.Payload.Usage)
			continue
		case r.Type == "event_msg" && r.Payload.Type == "token_count":
			lines = append(lines, l)
		}
		lines = append(lines, l)
	}
	fx.lines = lines
	return fx, want
}

func chatUsages(spans []genai.Span) (out []usage) {
	for _, s := range spans {
		a := testkit.AttrMap(s)
		if a["gen_ai.operation.name"] != "chat" {
			continue
		}
		var u usage
		for k, p := range map[string]*int64{"gen_ai.usage.input_tokens": &u.Input, "gen_ai.usage.output_tokens": &u.Output,
			"gen_ai.usage.cache_read.input_tokens": &u.Cached, "gen_ai.usage.cache_creation.input_tokens": &u.CacheW,
			"gen_ai.usage.reasoning.output_tokens": &u.Reasoning} {
			_ = json.Unmarshal([]byte(a[k]), p)
		}
		out = append(out, u)
	}
	return out
}

// A rollout without token_usage_records (an older Codex) still gives one
// chat span per model call with that call's usage: the growth of the
// token_count running total, once per call however often it is written,
// so the calls add up to Codex's own total. A restart anywhere gives the
// same spans.
func TestUsageFromTokenCounts(t *testing.T) {
	for _, name := range fixtureNames {
		t.Run(name, func(t *testing.T) {
			fx, want := withoutRecords(t, loadFixture(t, name))
			spans := runLines(fx.session, Options{TranscriptPath: fx.path}, fx.path, fx.lines)
			got := chatUsages(spans)
			if len(got) != len(want) {
				t.Fatalf("%d chat spans with usage %+v, want %d: %+v\n%s", len(got), got, len(want), want, renderTree(name, spans))
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("call %d: usage %+v, want %+v", i, got[i], want[i])
				}
			}
			for _, s := range spans {
				if _, ok := testkit.AttrMap(s)["gen_ai.response.id"]; ok {
					t.Errorf("%s: a response id made up: %s", s.Name, testkit.SpanString(s))
				}
			}
			for k := 0; k <= len(fx.lines); k++ {
				if got := runSplit(t, fx, Options{TranscriptPath: fx.path}, k); canonical(got) != canonical(spans) {
					t.Fatalf("restart after line %d changes the spans:\n%s", k, testkit.LineDiff(canonical(spans), canonical(got)))
				}
			}
		})
	}
}

// With token_usage_records (0.171.0), the token_count lines add nothing:
// one chat span per record, also when they repeat.
func TestTokenCountsFollowRecords(t *testing.T) {
	fx := loadFixture(t, "tool")
	var lines [][]byte
	var want []usage
	for _, l := range fx.lines {
		r, _, _ := parseLine(l)
		if r.Type == "token_usage_record" {
			want = append(want, *r.Payload.Usage)
		}
		if r.Type == "event_msg" && r.Payload.Type == "token_count" {
			lines = append(lines, l)
		}
		lines = append(lines, l)
	}
	got := chatUsages(runLines(fx.session, Options{TranscriptPath: fx.path}, fx.path, lines))
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("chat usages %+v, want the records' %+v", got, want)
	}
}

// A state saved by the builder before token_count was read (version 1) is
// restored as a session whose records count: a token_count after it does
// not count the call its record did.
func TestVersion1StateKeepsRecords(t *testing.T) {
	fx := loadFixture(t, "tool")
	want := runLines(fx.session, Options{TranscriptPath: fx.path}, fx.path, fx.lines)
	k := 0
	for i, l := range fx.lines {
		if r, _, _ := parseLine(l); r.Type == "token_usage_record" {
			k = i + 1 // after the first record, before its token_count
			break
		}
	}
	a := New(fx.session, Options{TranscriptPath: fx.path})
	for _, l := range fx.lines[:k] {
		a.Line(fx.path, l)
	}
	out := a.Take()
	st, err := a.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(st, &m); err != nil {
		t.Fatal(err)
	}
	m["v"] = json.RawMessage("1")
	delete(m, "recs")
	delete(m, "counted")
	if st, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	b := New(fx.session, Options{TranscriptPath: fx.path})
	if err := b.RestoreState(st); err != nil {
		t.Fatal(err)
	}
	for _, l := range fx.lines[k:] {
		b.Line(fx.path, l)
	}
	settle(b)
	if got := append(out, b.Take()...); canonical(got) != canonical(want) {
		t.Errorf("after a version 1 state:\n%s", testkit.LineDiff(canonical(want), canonical(got)))
	}
}
