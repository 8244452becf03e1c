package gemini

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/internal/testkit"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// fixtureDir is the captures of Gemini CLI 0.61.0 (../shared/AGENTS.md).
const fixtureDir = "gemini-0.61.0"

// fixtureCase is one capture: a chat file, every hook payload in order,
// and Gemini CLI's own stats (stdout.txt).
type fixtureCase struct {
	name    string
	session string
	chat    string   // path of the chat file
	lines   [][]byte // its lines
	hooks   []hookRecord
}

// hookRecord is one line of hooks.jsonl: the payload (stdin), and how many
// chat file lines existed when the hook ran.
type hookRecord struct {
	TS      float64         `json:"ts"`
	Event   string          `json:"event"`
	Payload json.RawMessage `json:"stdin"`
	At      struct {
		Lines int `json:"lines"`
	} `json:"transcript_at_hook"`
}

var fixtureCases = []struct{ name, session string }{
	{"text", "5115ca94-c87c-4081-8217-a6de9317bf38"},
	{"tool", "253ce1a9-8a9c-4cfe-8ebd-f86b09cf40bd"},
}

func loadFixture(t testing.TB, name string) fixtureCase {
	t.Helper()
	dir := filepath.Join(testkit.Fixtures(t), fixtureDir, name)
	chats, err := filepath.Glob(filepath.Join(dir, "session-*.jsonl"))
	if err != nil || len(chats) != 1 {
		t.Fatalf("%s: want one chat file, got %v (%v)", dir, chats, err)
	}
	fc := fixtureCase{name: name, chat: chats[0], lines: readLines(t, chats[0])}
	for _, c := range fixtureCases {
		if c.name == name {
			fc.session = c.session
		}
	}
	for _, l := range readLines(t, filepath.Join(dir, "hooks.jsonl")) {
		var h hookRecord
		if err := json.Unmarshal(l, &h); err != nil {
			t.Fatal(err)
		}
		fc.hooks = append(fc.hooks, h)
	}
	return fc
}

// ownTotal is Gemini CLI's own token total for the session (stdout.txt,
// stats.models[*].tokens.total).
func ownTotal(t testing.TB, name string) int64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testkit.Fixtures(t), fixtureDir, name, "stdout.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Stats struct {
			Models map[string]struct {
				Tokens struct {
					Total int64 `json:"total"`
				} `json:"tokens"`
			} `json:"models"`
		} `json:"stats"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, m := range out.Stats.Models {
		sum += m.Tokens.Total
	}
	return sum
}

func readLines(t testing.TB, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		lines = append(lines, append([]byte(nil), sc.Bytes()...))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// farFuture is a Tick time long after every fixture.
var farFuture = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)

// settle lets every time rule fire.
func settle(b *Builder) {
	b.Tick(farFuture)
	b.Tick(farFuture.Add(24 * time.Hour))
}

// backfill feeds the chat file alone (as discovery and backfill do) and
// settles.
func backfill(fc fixtureCase, opts Options) []genai.Span {
	opts.TranscriptPath = fc.chat
	b := New(fc.session, opts)
	for _, l := range fc.lines {
		b.Line(fc.chat, l)
	}
	settle(b)
	return b.Take()
}

// live feeds lines and hooks as they happened: before each hook, the lines
// the file had when it ran. It returns the spans, and how many were out
// before the last Tick.
func live(fc fixtureCase, opts Options) (spans []genai.Span, beforeTimeout int) {
	b := New(fc.session, opts)
	fed := 0
	var at time.Time
	for i, h := range fc.hooks {
		// The daemon applies an event, reads the lines written so far,
		// then ticks.
		at = time.Unix(0, int64(h.TS*1e9)).UTC()
		b.Hook(transcript.Event{ID: fmt.Sprint(i), Agent: genai.AgentGeminiCLI, Name: h.Event, ReceivedAt: at, Payload: h.Payload})
		for ; fed < h.At.Lines && fed < len(fc.lines); fed++ {
			b.Line(fc.chat, fc.lines[fed])
		}
		b.Tick(at)
		spans = append(spans, b.Take()...)
	}
	for ; fed < len(fc.lines); fed++ {
		b.Line(fc.chat, fc.lines[fed])
	}
	b.Tick(at)
	spans = append(spans, b.Take()...)
	beforeTimeout = len(spans)
	settle(b)
	return append(spans, b.Take()...), beforeTimeout
}

func attrMap(s genai.Span) map[string]string {
	m := map[string]string{}
	for _, kv := range s.Attrs {
		m[string(kv.Key)] = kv.Value.Emit()
	}
	return m
}

// usage sums gen_ai.usage.* over spans, as a backend rolls them up.
func usage(spans []genai.Span) (in, out, cacheRead, reasoning int64) {
	for _, s := range spans {
		for _, kv := range s.Attrs {
			switch kv.Key {
			case "gen_ai.usage.input_tokens":
				in += kv.Value.AsInt64()
			case "gen_ai.usage.output_tokens":
				out += kv.Value.AsInt64()
			case "gen_ai.usage.cache_read.input_tokens":
				cacheRead += kv.Value.AsInt64()
			case "gen_ai.usage.reasoning.output_tokens":
				reasoning += kv.Value.AsInt64()
			}
		}
	}
	return
}

// checkSpans: no span id twice, usage only on chat spans, the names every
// span carries.
func checkSpans(t *testing.T, session string, spans []genai.Span) {
	t.Helper()
	seen := map[genai.SpanID]bool{}
	for _, s := range spans {
		if seen[s.SpanID] {
			t.Errorf("span %s (%s) emitted twice", s.SpanID, s.Name)
		}
		seen[s.SpanID] = true
		a := attrMap(s)
		for k := range a {
			if strings.HasPrefix(k, "gen_ai.usage.") && a["gen_ai.operation.name"] != "chat" {
				t.Errorf("%s carries %s", s.Name, k)
			}
		}
		if a["gen_ai.conversation.id"] != session || a["gen_ai.agent.name"] != "gemini-cli" || a["gen_ai.conversation.name"] == "" ||
			a["gen_ai.provider.name"] == "" {
			t.Errorf("%s: names %v", s.Name, a)
		}
		if s.End.Before(s.Start) {
			t.Errorf("%s ends before it starts", s.Name)
		}
	}
}

// renderTree prints spans as an indented tree, traces in time order.
func renderTree(title string, spans []genai.Span) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "# %s\n# %d spans\n", title, len(spans))
	for _, k := range []string{"gen_ai.conversation.name", "gen_ai.agent.name", "gen_ai.provider.name"} {
		vals := map[string]int{}
		for _, s := range spans {
			vals[fmt.Sprintf("%q", attrMap(s)[k])]++
		}
		keys := make([]string, 0, len(vals))
		for v := range vals {
			keys = append(keys, v)
		}
		sort.Strings(keys)
		fmt.Fprintf(&sb, "# %s:", k)
		for _, v := range keys {
			fmt.Fprintf(&sb, " %s×%d", v, vals[v])
		}
		sb.WriteString("\n")
	}
	byID := map[genai.SpanID]bool{}
	for _, s := range spans {
		byID[s.SpanID] = true
	}
	children := map[genai.SpanID][]genai.Span{}
	var roots []genai.Span
	for _, s := range spans {
		if s.ParentID.IsZero() || !byID[s.ParentID] {
			roots = append(roots, s)
		} else {
			children[s.ParentID] = append(children[s.ParentID], s)
		}
	}
	var walk func(s genai.Span, depth int)
	walk = func(s genai.Span, depth int) {
		pad := strings.Repeat("  ", depth)
		sb.WriteString(pad)
		sb.WriteString(strings.ReplaceAll(describe(s), "\n", "\n"+pad+"  "))
		sb.WriteString("\n")
		kids := children[s.SpanID]
		sortSpans(kids)
		for _, k := range kids {
			walk(k, depth+1)
		}
	}
	sortSpans(roots)
	for _, r := range roots {
		if !r.ParentID.IsZero() {
			sb.WriteString("(parent " + r.ParentID.String() + " not emitted) ")
		}
		walk(r, 0)
	}
	return sb.String()
}

func sortSpans(ss []genai.Span) {
	sort.SliceStable(ss, func(i, j int) bool {
		if !ss[i].Start.Equal(ss[j].Start) {
			return ss[i].Start.Before(ss[j].Start)
		}
		return ss[i].SpanID.String() < ss[j].SpanID.String()
	})
}

func short(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// describe is one span on one line: name, ids, times, status and the
// attributes that matter (all of them, sorted, with long values shortened).
func describe(s genai.Span) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s [%s %s] %s +%s", s.Name, s.TraceID.String()[:8], s.SpanID.String()[:8],
		s.Start.UTC().Format("15:04:05.000"), s.End.Sub(s.Start).Round(time.Millisecond))
	if s.Status == genai.StatusError {
		fmt.Fprintf(&sb, " ERROR %q", short(s.StatusMessage, 40))
	}
	a := attrMap(s)
	keys := make([]string, 0, len(a))
	for k := range a {
		switch k {
		case "gen_ai.conversation.name", "gen_ai.agent.name", "gen_ai.provider.name", "gen_ai.conversation.id", "session.id", "gen_ai.operation.name":
			continue // in the header, or the span name
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&sb, "\n  %s=%s", k, short(a[k], 400))
	}
	return sb.String()
}
