package claude

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/transcript"

	"github.com/weave-agentd/weave-agentd/internal/testkit"
)

// Real Claude Code 2.1.328 runs (claude -p against a scripted API, captured
// by the e2e harness; see testdata/claude-2.1.328/README.md): transcripts
// and the hook payloads of the same runs. Hooks carry no time, so a run is
// replayed as it happened live: transcript lines in timestamp order, the
// daemon clock (Tick) following them, and each hook placed at the line it
// belongs to.

type liveInput struct {
	path string // "" for a hook
	line []byte
	hook *transcript.Event
	now  time.Time // daemon clock at this input
}

// liveFeed builds the replay of one captured run.
func liveFeed(t testing.TB, dir string) (session string, opts Options, in []liveInput) {
	mains, _ := filepath.Glob(filepath.Join(dir, "projects", "*", "*.jsonl"))
	if len(mains) != 1 {
		t.Fatalf("%s: %d main transcripts", dir, len(mains))
	}
	main := mains[0]
	session = strings.TrimSuffix(filepath.Base(main), ".jsonl")
	opts = Options{TranscriptPath: main}
	files := New(session, opts).Files()
	var lines []feedLine
	for _, f := range files {
		for _, l := range testkit.ReadLines(t, f) {
			lines = append(lines, feedLine{f, l})
		}
	}
	lines = byTimestamp(lines)

	// Line timestamps (carried forward over lines without one).
	ts := make([]time.Time, len(lines))
	var last time.Time
	for i, l := range lines {
		if r, err := parseLine(l.line); err == nil {
			if t := parseTime(r.Timestamp); !t.IsZero() && t.After(last) {
				last = t
			}
		}
		ts[i] = last
	}
	find := func(from int, pred func(r *record, path string) bool) int {
		for i := from; i < len(lines); i++ {
			if r, err := parseLine(lines[i].line); err == nil && pred(r, lines[i].path) {
				return i
			}
		}
		return -1
	}
	hasBlock := func(r *record, typ, id string) bool {
		if r.Message == nil {
			return false
		}
		for _, b := range r.Message.Content.Blocks {
			if b.Type == typ && (b.ID == id || b.ToolUseID == id) {
				return true
			}
		}
		return false
	}

	// Place each hook before line index pos (len(lines) = at the end), in
	// hook order.
	type placed struct {
		pos int
		ev  transcript.Event
	}
	var hooks []placed
	prev := 0
	for _, raw := range testkit.ReadLines(t, filepath.Join(dir, "hooks.jsonl")) {
		var p hookPayload
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatal(err)
		}
		pos := -1
		switch p.HookEventName {
		case "UserPromptSubmit":
			pos = find(prev, func(r *record, _ string) bool { return r.Type == "user" && r.PromptID == p.PromptID })
		case "PreToolUse":
			if i := find(0, func(r *record, _ string) bool { return hasBlock(r, "tool_use", p.ToolUseID) }); i >= 0 {
				pos = i + 1
			}
		case "PostToolUse", "PostToolUseFailure":
			pos = find(0, func(r *record, _ string) bool { return hasBlock(r, "tool_result", p.ToolUseID) })
		case "Stop", "StopFailure":
			// After the turn's last response.
			for i := len(lines) - 1; i >= 0; i-- {
				r, err := parseLine(lines[i].line)
				if err == nil && r.Type == "assistant" && lines[i].path == main && ownerPrompt(lines, i) == p.PromptID {
					pos = i + 1
					break
				}
			}
		case "SubagentStop":
			for i := len(lines) - 1; i >= 0; i-- {
				if strings.Contains(lines[i].path, "agent-"+p.AgentID) {
					pos = i + 1
					break
				}
			}
		}
		if pos < prev {
			pos = prev
		}
		prev = pos
		ev := transcript.Event{Agent: genai.AgentClaudeCode, Name: p.HookEventName, Payload: bytes.Clone(raw)}
		hooks = append(hooks, placed{pos, ev})
	}
	sort.SliceStable(hooks, func(i, j int) bool { return hooks[i].pos < hooks[j].pos })
	h := 0
	clock := func(i int) time.Time {
		if i < len(ts) && !ts[i].IsZero() {
			return ts[i]
		}
		return last
	}
	for i := 0; i <= len(lines); i++ {
		for h < len(hooks) && hooks[h].pos == i {
			ev := hooks[h].ev
			ev.ReceivedAt = clock(i)
			in = append(in, liveInput{hook: &ev, now: ev.ReceivedAt})
			h++
		}
		if i < len(lines) {
			in = append(in, liveInput{path: lines[i].path, line: lines[i].line, now: clock(i)})
		}
	}
	return session, opts, in
}

// ownerPrompt is the promptId of the user line that opened the turn line i is in.
func ownerPrompt(lines []feedLine, i int) string {
	for ; i >= 0; i-- {
		r, err := parseLine(lines[i].line)
		if err == nil && r.Type == "user" && r.PromptID != "" && !r.IsSidechain {
			return r.PromptID
		}
	}
	return ""
}

// playLive drives a builder through a live replay: a Tick at every clock
// change (the daemon ticks after each read), then a long quiet period.
func playLive(b *Builder, in []liveInput) []genai.Span {
	var now time.Time
	out := playLiveRange(b, in, &now)
	return append(out, settleLive(b, now)...)
}

func playLiveRange(b *Builder, in []liveInput, now *time.Time) []genai.Span {
	var out []genai.Span
	for _, x := range in {
		if !x.now.IsZero() && x.now.After(*now) {
			*now = x.now
			b.Tick(*now)
			out = append(out, b.Take()...)
		}
		if x.hook != nil {
			b.Hook(*x.hook)
		} else {
			b.Line(x.path, x.line)
		}
		out = append(out, b.Take()...)
	}
	return out
}

func settleLive(b *Builder, now time.Time) []genai.Span {
	var out []genai.Span
	for _, d := range []time.Duration{100 * time.Millisecond, time.Second, 3 * time.Second, time.Hour} {
		b.Tick(now.Add(d))
		out = append(out, b.Take()...)
	}
	return out
}

// TestLiveSplit: a live replay (lines, hooks and ticks) persisted and
// restored at every input boundary gives the spans of one run.
func TestLiveSplit(t *testing.T) {
	for _, dir := range liveDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			session, opts, in := liveFeed(t, dir)
			want := canonical(playLive(New(session, opts), in))
			for k := 0; k <= len(in); k++ {
				var now time.Time
				a := New(session, opts)
				got := playLiveRange(a, in[:k], &now)
				st, err := a.MarshalState()
				if err != nil {
					t.Fatal(err)
				}
				b := New(session, opts)
				if err := b.RestoreState(st); err != nil {
					t.Fatal(err)
				}
				got = append(got, playLiveRange(b, in[k:], &now)...)
				got = append(got, settleLive(b, now)...)
				testkit.CheckNoDuplicates(t, got)
				if g := canonical(got); strings.Join(g, "") != strings.Join(want, "") {
					t.Fatalf("split at input %d: %d spans, want %d:\n%s", k, len(g), len(want), firstDiff(want, g))
				}
			}
		})
	}
}

func liveDirs(t testing.TB) []string {
	dirs, _ := filepath.Glob(filepath.Join("testdata", "claude-2.1.328", "*"))
	var out []string
	for _, d := range dirs {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		t.Skip("no 2.1.328 captures")
	}
	return out
}

func TestLive2_1_328(t *testing.T) {
	for _, dir := range liveDirs(t) {
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			session, opts, in := liveFeed(t, dir)
			spans := playLive(New(session, opts), in)
			testkit.CheckNoDuplicates(t, spans)
			got := renderTree("claude-2.1.328/"+name+" (live replay with hooks)", spans)
			testkit.Golden(t, filepath.Join("testdata", "v2.1.328-"+name+".golden"), got)
		})
	}
}
