package codex

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/internal/testkit"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// fixture is one capture of fixtures/codex-0.171.0: a rollout, the hook
// payloads Codex sent meanwhile (with how many rollout lines each saw).
type fixture struct {
	name    string
	session string
	path    string   // the rollout
	lines   [][]byte // its lines
	hooks   []hookCapture
}

type hookCapture struct {
	event   string
	payload []byte
	lines   int // rollout lines written when the hook ran
}

var fixtureNames = []string{"text", "tool"}

func loadFixture(t testing.TB, name string) fixture {
	t.Helper()
	dir := filepath.Join(testkit.Fixtures(t), "codex-0.171.0", name)
	rollouts, _ := filepath.Glob(filepath.Join(dir, "rollout-*.jsonl"))
	if len(rollouts) != 1 {
		t.Fatalf("%s: %d rollout files", dir, len(rollouts))
	}
	fx := fixture{name: name, path: rollouts[0], session: Agent{}.Session(rollouts[0]), lines: testkit.ReadLines(t, rollouts[0])}
	for _, l := range testkit.ReadLines(t, filepath.Join(dir, "hooks.jsonl")) {
		var h struct {
			Event      string          `json:"event"`
			Stdin      json.RawMessage `json:"stdin"`
			Transcript struct {
				Lines int `json:"lines"`
			} `json:"transcript_at_hook"`
		}
		if err := json.Unmarshal(l, &h); err != nil {
			t.Fatal(err)
		}
		fx.hooks = append(fx.hooks, hookCapture{h.Event, h.Stdin, h.Transcript.Lines})
	}
	return fx
}

// farFuture is a Tick time long after every fixture.
var farFuture = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)

// settle lets every time rule fire.
func settle(b *Builder) {
	b.Tick(farFuture)
	b.Tick(farFuture.Add(24 * time.Hour))
}

// runLines feeds lines (a backfill: no hooks) and settles.
func runLines(session string, opts Options, path string, lines [][]byte) []genai.Span {
	b := New(session, opts)
	for _, l := range lines {
		b.Line(path, l)
	}
	settle(b)
	return b.Take()
}

// runLive replays a capture as the daemon sees it live: each hook after the
// rollout lines written when it ran, the rest of the lines after it, and
// no settling: what is out must be out without any timeout.
func runLive(fx fixture, opts Options) []genai.Span {
	b := New(fx.session, opts)
	read := 0
	base := time.Date(2026, 12, 5, 14, 0, 0, 0, time.UTC)
	for i, h := range fx.hooks {
		for ; read < h.lines && read < len(fx.lines); read++ {
			b.Line(fx.path, fx.lines[read])
		}
		b.Hook(transcript.Event{Name: h.event, ReceivedAt: base.Add(time.Duration(i) * time.Millisecond), Payload: h.payload})
	}
	for ; read < len(fx.lines); read++ {
		b.Line(fx.path, fx.lines[read])
	}
	return b.Take()
}

func canonical(spans []genai.Span) string {
	out := make([]string, len(spans))
	for i, s := range spans {
		out[i] = testkit.SpanString(s)
	}
	sort.Strings(out)
	return strings.Join(out, "")
}

// renderTree prints spans as an indented tree, one trace after another in
// time order, with the attributes that matter.
func renderTree(title string, spans []genai.Span) string {
	return fmt.Sprintf("# %s\n# %d spans\n", title, len(spans)) +
		testkit.SpanTree(spans, testkit.ByStart, func(s genai.Span, depth int) string {
			return strings.TrimSuffix(describe(s, strings.Repeat("  ", depth)), "\n")
		})
}

// describe is one span: its name, ids, times and status, then every
// attribute and resource attribute on its own line (long values cut).
func describe(s genai.Span, prefix string) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s%s [%s %s] %s +%s",
		prefix, s.Name, s.TraceID.String()[:8], s.SpanID.String()[:8],
		s.Start.UTC().Format("2006-01-02T15:04:05.000000"), s.End.Sub(s.Start))
	if s.Status == genai.StatusError {
		fmt.Fprintf(&sb, " ERROR %q", s.StatusMessage)
	}
	sb.WriteString("\n")
	indent := prefix + "    "
	for _, kv := range s.Attrs {
		v := kv.Value.String()
		if len(v) > 300 {
			v = fmt.Sprintf("%s… (%d bytes)", v[:300], len(v))
		}
		if strings.ContainsAny(v, "\n\r") {
			v = strconv.Quote(v)
		}
		fmt.Fprintf(&sb, "%s%s=%s\n", indent, kv.Key, v)
	}
	for _, kv := range s.Resource {
		fmt.Fprintf(&sb, "%sresource %s=%s\n", indent, kv.Key, kv.Value.String())
	}
	return sb.String()
}
