package cursor

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/transcript"

	"github.com/weave-agentd/weave-agentd/internal/testkit"
)

// base is the scripts' time origin.
var base = time.Date(2026, 10, 12, 7, 14, 0, 0, time.UTC)

const cursorFixtures = "cursor/forgelore-hooks-2026.10.01"

// step is one input to a builder: a hook event, a transcript line or a tick.
type step struct {
	Kind    string // hook | line | tick
	At      time.Time
	ID      string
	Name    string
	Payload []byte
	Path    string
	Line    []byte
}

// scriptLine is one line of a testdata/*.script.jsonl file.
type scriptLine struct {
	Defaults map[string]json.RawMessage `json:"defaults"`
	T        float64                    `json:"t"`
	Hook     map[string]json.RawMessage `json:"hook"`
	Fixture  string                     `json:"fixture"`
	Set      map[string]json.RawMessage `json:"set"`
	Tx       json.RawMessage            `json:"tx"`
	Txt      *string                    `json:"txt"`
	Path     string                     `json:"path"`
	Tick     bool                       `json:"tick"`
}

// loadScript reads a script: "defaults" are merged under every "hook"
// payload; "fixture" loads a real payload (relative to ../shared/fixtures,
// skipping the test when absent) with "set" fields overridden; "tx"/"txt"
// are transcript lines (JSON / raw) of the defaults' transcript_path unless
// "path" says otherwise; "tick" ticks. Lines starting with // are comments.
func loadScript(t testing.TB, name string) []step {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var defaults map[string]json.RawMessage
	var steps []step
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	n := 0
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || bytes.HasPrefix(line, []byte("//")) {
			continue
		}
		var sl scriptLine
		if err := json.Unmarshal(line, &sl); err != nil {
			t.Fatalf("%s: %v: %s", name, err, line)
		}
		at := base.Add(time.Duration(sl.T * float64(time.Millisecond)))
		switch {
		case sl.Defaults != nil:
			defaults = sl.Defaults
		case sl.Hook != nil || sl.Fixture != "":
			m := map[string]json.RawMessage{}
			if sl.Fixture != "" {
				b, err := os.ReadFile(filepath.Join(testkit.Fixtures(t), sl.Fixture))
				if err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(b, &m); err != nil {
					t.Fatal(err)
				}
			} else {
				for k, v := range defaults {
					m[k] = v
				}
				for k, v := range sl.Hook {
					m[k] = v
				}
			}
			for k, v := range sl.Set {
				m[k] = v
			}
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			n++
			var ev string
			_ = json.Unmarshal(m["hook_event_name"], &ev)
			steps = append(steps, step{Kind: "hook", At: at, ID: fmt.Sprintf("%032x", n), Name: ev, Payload: b})
		case sl.Tx != nil || sl.Txt != nil:
			path := sl.Path
			if path == "" {
				_ = json.Unmarshal(defaults["transcript_path"], &path)
			}
			var l []byte
			if sl.Txt != nil {
				l = []byte(*sl.Txt)
			} else {
				var buf bytes.Buffer
				if err := json.Compact(&buf, sl.Tx); err != nil {
					t.Fatal(err)
				}
				l = buf.Bytes()
			}
			steps = append(steps, step{Kind: "line", At: at, Path: path, Line: l})
		case sl.Tick:
			steps = append(steps, step{Kind: "tick", At: at})
		default:
			t.Fatalf("%s: unknown script line %s", name, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return steps
}

func hookStep(at time.Time, id, payload string) step {
	var c struct {
		Name string `json:"hook_event_name"`
	}
	_ = json.Unmarshal([]byte(payload), &c)
	return step{Kind: "hook", At: at, ID: id, Name: c.Name, Payload: []byte(payload)}
}

func apply(b *Builder, s step) {
	switch s.Kind {
	case "hook":
		b.Hook(transcript.Event{ID: s.ID, Agent: genai.AgentCursor, Name: s.Name, ReceivedAt: s.At, Payload: s.Payload})
	case "line":
		b.Line(s.Path, s.Line)
	case "tick":
		b.Tick(s.At)
	}
}

// runSteps feeds steps to a fresh builder and returns every span; with
// split the builder is rebuilt from MarshalState after every step. It ends
// with ticks long after the last step so every time rule fires.
func runSteps(t testing.TB, conv string, opts Options, steps []step, split bool) []genai.Span {
	t.Helper()
	b := New(conv, opts)
	var spans []genai.Span
	var last time.Time
	restart := func() {
		st, err := b.MarshalState()
		if err != nil {
			t.Fatal(err)
		}
		b = New(conv, opts)
		if err := b.RestoreState(st); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range steps {
		apply(b, s)
		spans = append(spans, b.Take()...)
		if s.At.After(last) {
			last = s.At
		}
		if split {
			restart()
		}
	}
	for i := 1; i <= 3; i++ {
		b.Tick(last.Add(time.Duration(i) * time.Hour))
		spans = append(spans, b.Take()...)
		if split {
			restart()
		}
	}
	return spans
}

// settle lets every time rule fire, as the daemon's periodic ticks would:
// the first tick sees the session, the next ones find it idle and then let
// the transcript wait run out.
func settle(b *Builder, after time.Time) {
	for i := 1; i <= 3; i++ {
		b.Tick(after.Add(time.Duration(i) * time.Hour))
	}
}

func resMap(s genai.Span) map[string]string {
	m := map[string]string{}
	for _, kv := range s.Resource {
		m[string(kv.Key)] = kv.Value.String()
	}
	return m
}

// checkInvariants: no token usage anywhere, the conversation id on every
// span, parents inside the same trace, start <= end.
func checkInvariants(t testing.TB, conv string, spans []genai.Span) {
	t.Helper()
	names := map[string]bool{}
	keys := map[string]bool{}
	for _, s := range spans {
		a := testkit.AttrMap(s)
		// What a backend reads on every span (Weave's agents view: the
		// conversation, its title, the agent).
		for _, k := range []string{"gen_ai.conversation.name", "gen_ai.agent.name", "gen_ai.provider.name", "gen_ai.operation.name"} {
			if a[k] == "" {
				t.Errorf("%s: no %s", s.Name, k)
			}
		}
		names[a["gen_ai.conversation.name"]] = true
		if a["gen_ai.operation.name"] == "invoke_agent" && resMap(s)["service.version"] != "" && a["gen_ai.agent.version"] != resMap(s)["service.version"] {
			t.Errorf("%s: gen_ai.agent.version %q, service.version %q", s.Name, a["gen_ai.agent.version"], resMap(s)["service.version"])
		}
		for k := range a {
			keys[k] = true
		}
		for k := range resMap(s) {
			keys[k] = true
		}
		for k := range a {
			if strings.HasPrefix(k, "gen_ai.usage.") {
				t.Errorf("%s: token attribute %s", s.Name, k)
			}
		}
		if a["gen_ai.conversation.id"] != conv {
			t.Errorf("%s: gen_ai.conversation.id = %q", s.Name, a["gen_ai.conversation.id"])
		}
		if s.End.Before(s.Start) {
			t.Errorf("%s: ends before it starts", s.Name)
		}
		if resMap(s)["service.name"] != "cursor" {
			t.Errorf("%s: service.name = %q", s.Name, resMap(s)["service.name"])
		}
	}
	if len(spans) > 0 && len(names) != 1 {
		t.Errorf("conversation names %v, want one", names)
	}
	// No key is also the prefix of another (Weave rejects such a span).
	for k := range keys {
		for i := range len(k) {
			if k[i] == '.' && keys[k[:i]] {
				t.Errorf("key %q is the prefix of %q", k[:i], k)
			}
		}
	}
}

// renderTree prints spans as an indented tree (indentation = parent/child),
// traces in time order, with the attributes that matter.
func renderTree(title string, spans []genai.Span) string {
	var sb strings.Builder
	counts := map[string]int{}
	for _, s := range spans {
		counts[testkit.AttrMap(s)["gen_ai.operation.name"]]++
	}
	fmt.Fprintf(&sb, "# %s\n# %d spans:", title, len(spans))
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		fmt.Fprintf(&sb, " %s=%d", k, counts[k])
	}
	sb.WriteString("\n")
	// The names every span carries, listed once.
	sb.WriteString(testkit.ValueCounts(spans, "gen_ai.conversation.name", "gen_ai.agent.name"))
	sb.WriteString(testkit.SpanTree(spans, testkit.ByStartName, func(s genai.Span, depth int) string {
		ind := strings.Repeat("  ", depth)
		return ind + strings.ReplaceAll(describe(s), "\n", "\n"+ind)
	}))
	return sb.String()
}

// messageParts renders a messages attribute as type:text pairs.
func messageParts(js string, n int) string {
	var msgs []genai.Message
	if json.Unmarshal([]byte(js), &msgs) != nil {
		return js
	}
	var out []string
	for _, m := range msgs {
		for _, p := range m.Parts {
			out = append(out, fmt.Sprintf("%s:%q", p.Type, testkit.Short(p.Content, n)))
		}
		if m.FinishReason != "" {
			out = append(out, "finish="+m.FinishReason)
		}
	}
	return strings.Join(out, " ")
}

func describe(s genai.Span) string {
	a := testkit.AttrMap(s)
	var sb strings.Builder
	sb.WriteString(s.Name)
	fmt.Fprintf(&sb, " [%s %s] %s +%s", s.TraceID.String()[:8], s.SpanID.String()[:8],
		s.Start.UTC().Format("15:04:05.000"), s.End.Sub(s.Start).Round(time.Millisecond))
	if s.Status == genai.StatusError {
		fmt.Fprintf(&sb, " ERROR(%s)", a["error.type"])
		if s.StatusMessage != "" {
			fmt.Fprintf(&sb, " %q", testkit.Short(s.StatusMessage, 50))
		}
	}
	switch a["gen_ai.operation.name"] {
	case "invoke_agent":
		fmt.Fprintf(&sb, " provider=%s", a["gen_ai.provider.name"])
		if id := a["gen_ai.agent.id"]; id != "" {
			fmt.Fprintf(&sb, " agent.id=%s", id)
		}
		if m := a["gen_ai.request.model"]; m != "" {
			fmt.Fprintf(&sb, " model=%s", m)
		}
		for _, k := range []string{"cursor.turn.ordinal", "cursor.turn.end_reason", "cursor.stop.status", "cursor.compactions",
			"cursor.subagent.status", "cursor.subagent.tool_call_count"} {
			if v := a[k]; v != "" {
				fmt.Fprintf(&sb, " %s=%s", strings.TrimPrefix(k, "cursor."), v)
			}
		}
		if v := a["gen_ai.input.messages"]; v != "" {
			fmt.Fprintf(&sb, "\n  in:  %s", messageParts(v, 60))
		}
		if v := a["gen_ai.output.messages"]; v != "" {
			fmt.Fprintf(&sb, "\n  out: %s", messageParts(v, 40))
		}
		for _, e := range s.Events {
			fmt.Fprintf(&sb, "\n  event %s @%s", e.Name, e.Time.UTC().Format("15:04:05.000"))
			for _, kv := range e.Attrs {
				fmt.Fprintf(&sb, " %s=%s", kv.Key, testkit.Short(kv.Value.String(), 40))
			}
		}
	case "execute_tool":
		fmt.Fprintf(&sb, " type=%s", a["gen_ai.tool.type"])
		if id := a["gen_ai.tool.call.id"]; id != "" {
			fmt.Fprintf(&sb, " id=%s", strings.ReplaceAll(id, "\n", `\n`))
		}
		if src := a["cursor.tool.source"]; src != "" {
			fmt.Fprintf(&sb, " source=%s", src)
		}
		if sb2 := a["cursor.shell.sandbox"]; sb2 != "" {
			fmt.Fprintf(&sb, " sandbox=%s", sb2)
		}
		fmt.Fprintf(&sb, "\n  args=%q result=%q", testkit.Short(a["gen_ai.tool.call.arguments"], 60), testkit.Short(a["gen_ai.tool.call.result"], 40))
	}
	return sb.String()
}
