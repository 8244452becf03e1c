package gemini

import (
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
	fc := fixtureCase{name: name, chat: chats[0], lines: testkit.ReadLines(t, chats[0])}
	for _, c := range fixtureCases {
		if c.name == name {
			fc.session = c.session
		}
	}
	for _, l := range testkit.ReadLines(t, filepath.Join(dir, "hooks.jsonl")) {
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

// checkSpans: no span id twice, usage only on chat spans, the names every
// span carries.
func checkSpans(t *testing.T, session string, spans []genai.Span) {
	t.Helper()
	testkit.CheckNoDuplicates(t, spans)
	for _, s := range spans {
		a := testkit.AttrMap(s)
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
	return fmt.Sprintf("# %s\n# %d spans\n", title, len(spans)) +
		testkit.ValueCounts(spans, "gen_ai.conversation.name", "gen_ai.agent.name", "gen_ai.provider.name") +
		testkit.SpanTree(spans, testkit.ByStart, func(s genai.Span, depth int) string {
			pad := strings.Repeat("  ", depth)
			return pad + strings.ReplaceAll(describe(s), "\n", "\n"+pad+"  ")
		})
}

// describe is one span on one line: name, ids, times, status and the
// attributes that matter (all of them, sorted, with long values shortened).
func describe(s genai.Span) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s [%s %s] %s +%s", s.Name, s.TraceID.String()[:8], s.SpanID.String()[:8],
		s.Start.UTC().Format("15:04:05.000"), s.End.Sub(s.Start).Round(time.Millisecond))
	if s.Status == genai.StatusError {
		fmt.Fprintf(&sb, " ERROR %q", testkit.Short(s.StatusMessage, 40))
	}
	a := testkit.AttrMap(s)
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
		fmt.Fprintf(&sb, "\n  %s=%s", k, testkit.Short(a[k], 400))
	}
	return sb.String()
}
