package claude

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/internal/testkit"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// Synthetic transcripts: small, hand-written lines in the shapes of
// FORMATS.md, for behaviour no fixture shows (hooks, background agents,
// 2.0.x flat files, API errors, multi-block ≥2.1.97 responses).

const sess = "11111111-2222-3333-4444-555555555555"

var t0 = time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)

func at(sec float64) string {
	return t0.Add(time.Duration(sec * float64(time.Second))).Format("2006-01-02T15:04:05.000Z")
}

type obj = map[string]any

func js(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func env(typ, uuid string, sec float64, extra obj) obj {
	m := obj{"type": typ, "uuid": uuid, "timestamp": at(sec), "sessionId": sess, "version": "2.1.300", "isSidechain": false}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func prompt(uuid string, sec float64, text string, extra obj) []byte {
	m := env("user", uuid, sec, extra)
	m["message"] = obj{"role": "user", "content": text}
	return js(m)
}

func use(in, out, cr, cc int) obj {
	return obj{"input_tokens": in, "output_tokens": out, "cache_read_input_tokens": cr, "cache_creation_input_tokens": cc}
}

func asst(uuid string, sec float64, msgID string, stop any, u obj, block obj, extra obj) []byte {
	m := env("assistant", uuid, sec, extra)
	m["requestId"] = "req_" + msgID
	m["message"] = obj{"id": msgID, "type": "message", "role": "assistant", "model": "claude-test-1",
		"content": []any{block}, "stop_reason": stop, "usage": u}
	return js(m)
}

func text(s string) obj     { return obj{"type": "text", "text": s} }
func thinking(s string) obj { return obj{"type": "thinking", "thinking": s, "signature": "sig"} }
func toolUse(id, name string, input obj) obj {
	return obj{"type": "tool_use", "id": id, "name": name, "input": input}
}

func result(uuid string, sec float64, toolID string, content any, isErr bool, tur any, extra obj) []byte {
	m := env("user", uuid, sec, extra)
	m["message"] = obj{"role": "user", "content": []any{obj{"type": "tool_result", "tool_use_id": toolID, "content": content, "is_error": isErr}}}
	if tur != nil {
		m["toolUseResult"] = tur
	}
	return js(m)
}

func sys(uuid string, sec float64, subtype string, extra obj) []byte {
	m := env("system", uuid, sec, extra)
	m["subtype"] = subtype
	return js(m)
}

func hookEv(name string, sec float64, payload obj) transcript.Event {
	p := obj{"session_id": sess, "hook_event_name": name}
	for k, v := range payload {
		p[k] = v
	}
	return transcript.Event{Agent: genai.AgentClaudeCode, Name: name, ReceivedAt: t0.Add(time.Duration(sec * float64(time.Second))), Payload: js(p)}
}

// step is one input to a builder; at most one field is set.
type step struct {
	file string // relative to the test dir; "" = main transcript
	line []byte
	hook *transcript.Event
	tick float64 // seconds after t0 (when > 0)
	// expect, after this step, the names of the spans Take returns.
	expect []string
}

func ln(b []byte) step               { return step{line: b} }
func sub(file string, b []byte) step { return step{file: file, line: b} }
func hk(ev transcript.Event) step    { return step{hook: &ev} }
func tk(sec float64) step            { return step{tick: sec} }
func want(names ...string) step      { return step{expect: append([]string{}, names...)} }

type run struct {
	b     *Builder
	dir   string
	spans []genai.Span
}

func newRun(t *testing.T, opts Options) *run {
	dir := t.TempDir()
	main := filepath.Join(dir, sess+".jsonl")
	if err := os.WriteFile(main, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	opts.TranscriptPath = main
	return &run{b: New(sess, opts), dir: dir}
}

// play runs the steps. Every span must be announced by a want step right
// after the input that produced it (this checks freshness too).
func (r *run) play(t *testing.T, steps []step) {
	t.Helper()
	var pending []genai.Span
	for i, s := range steps {
		switch {
		case s.expect != nil:
			var names []string
			for _, sp := range pending {
				names = append(names, sp.Name)
			}
			if strings.Join(names, "|") != strings.Join(s.expect, "|") {
				t.Fatalf("step %d: got spans %q, want %q", i, names, s.expect)
			}
			pending = nil
			continue
		case s.line != nil:
			p := r.b.st.Main
			if s.file != "" {
				p = filepath.Join(r.dir, s.file)
			}
			r.b.Line(p, s.line)
		case s.hook != nil:
			r.b.Hook(*s.hook)
		case s.tick > 0:
			r.b.Tick(t0.Add(time.Duration(s.tick * float64(time.Second))))
		}
		got := r.b.Take()
		if len(pending) > 0 && len(got) > 0 || len(pending) > 0 {
			var names []string
			for _, sp := range pending {
				names = append(names, sp.Name)
			}
			t.Fatalf("step %d: spans %q were not expected before it", i, names)
		}
		pending = got
		r.spans = append(r.spans, got...)
	}
	if len(pending) > 0 {
		var names []string
		for _, sp := range pending {
			names = append(names, sp.Name)
		}
		t.Fatalf("unexpected spans at the end: %q", names)
	}
	testkit.CheckNoDuplicates(t, r.spans)
}

func (r *run) find(t *testing.T, name string) genai.Span {
	t.Helper()
	for _, s := range r.spans {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no span %q among %d", name, len(r.spans))
	return genai.Span{}
}

func (r *run) byID(t *testing.T, id string) genai.Span {
	t.Helper()
	for _, s := range r.spans {
		a := testkit.AttrMap(s)
		if a["gen_ai.tool.call.id"] == id || a["gen_ai.response.id"] == id || a["gen_ai.agent.id"] == id {
			return s
		}
	}
	t.Fatalf("no span for %q", id)
	return genai.Span{}
}

func turnIDs(key string) (genai.TraceID, genai.SpanID) {
	tr := genai.NewTraceID(genai.AgentClaudeCode, sess, key)
	return tr, genai.NewSpanID(tr, genai.KindTurn, "turn")
}

// A prompt_snapshot written after a turn's answer (2.1.3xx writes one) must
// not change the turn's system prompt, whether it is read before the Stop
// hook ends the turn or after: the turn keeps its request's shape.
func TestTurnShapeDoesNotDependOnTiming(t *testing.T) {
	shapeLine := func(uuid string, sec float64, sysText string) []byte {
		m := env("api-request-shape", uuid, sec, nil)
		m["shape"] = obj{"system": []any{text(sysText)}, "tools": []any{obj{"name": "Bash"}}}
		return js(m)
	}
	snapshot := func(uuid string, sec float64, sysText string) []byte {
		m := env("attachment", uuid, sec, nil)
		m["attachment"] = obj{"type": "prompt_snapshot", "systemPrompt": []any{text(sysText)}}
		return js(m)
	}
	lines := [][]byte{
		prompt("u1", 0, "hi", obj{"promptId": "p1"}),
		snapshot("s0", 0.1, "without the SDK line"),
		shapeLine("s1", 0.2, "the request's system prompt"),
		asst("a1", 1, "m1", "end_turn", use(3, 1, 0, 0), text("Hello."), nil),
	}
	late := snapshot("s2", 1.1, "without the SDK line")
	stop := hookEv("Stop", 1.2, obj{"last_assistant_message": "Hello."})
	systemOf := func(lateFirst bool) string {
		b := New(sess, Options{})
		for _, l := range lines {
			b.Line("", l)
		}
		if lateFirst {
			b.Line("", late)
			b.Hook(stop)
		} else {
			b.Hook(stop)
			b.Tick(t0.Add(5 * time.Second))
			b.Line("", late)
		}
		settle(b)
		for _, s := range b.Take() {
			if s.Name == "invoke_agent claude-code" {
				for _, kv := range s.Attrs {
					if kv.Key == "gen_ai.system_instructions" {
						return kv.Value.AsString()
					}
				}
			}
		}
		return ""
	}
	a, b := systemOf(true), systemOf(false)
	if a != b || !strings.Contains(a, "the request's system prompt") {
		t.Fatalf("system instructions depend on timing:\n late line first: %s\n Stop first:      %s", a, b)
	}
}

// Settle (a backfill of files left alone for long) gives at once the spans
// the idle timeout would give later: same ids, same content.
func TestSettleIsTheIdleTimeoutNow(t *testing.T) {
	lines := [][]byte{
		prompt("u1", 0, "run it", obj{"promptId": "p1"}),
		asst("a1", 1, "m1", "tool_use", use(3, 1, 0, 0), toolUse("toolu_1", "Bash", obj{"command": "sleep 1000"}), nil),
	}
	run := func(finish func(b *Builder)) []string {
		b := New(sess, Options{})
		for _, l := range lines {
			b.Line("", l)
		}
		b.Tick(t0.Add(time.Hour)) // read by a backfill, long after
		if got := b.Take(); len(got) != 0 && got[len(got)-1].Name == "invoke_agent claude-code" {
			t.Fatal("the turn ended before its timeout")
		}
		finish(b)
		return canonical(b.Take())
	}
	settled := run(func(b *Builder) { b.Settle() })
	timedOut := run(func(b *Builder) { b.Tick(t0.Add(time.Hour + defaultIdleTimeout)) })
	if strings.Join(settled, "") != strings.Join(timedOut, "") || !strings.Contains(strings.Join(settled, ""), "invoke_agent claude-code") {
		t.Fatalf("settled:\n%s\ntimed out:\n%s", strings.Join(settled, ""), strings.Join(timedOut, ""))
	}
}
