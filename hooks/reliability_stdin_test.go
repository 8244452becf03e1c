package hooks

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// hugePayload streams a Claude Code PostToolUse payload whose tool_response
// holds n bytes of file content (with escapes), in Claude Code's field
// order: the routing fields first, tool_use_id after the response. It
// counts what is read from it.
type hugePayload struct {
	r    io.Reader
	read int64
}

const hugeHead = `{"session_id":"s-huge","transcript_path":"/nonexistent/t.jsonl","cwd":"/w","permission_mode":"default",` +
	`"hook_event_name":"PostToolUse","tool_name":"Read","tool_input":{"file_path":"/w/big.log"},"tool_response":{"type":"text","file":{"content":"`
const hugeTail = `"}},"tool_use_id":"toolu_1","duration_ms":12}`

func newHugePayload(n int64) *hugePayload {
	line := `a line of a log with a \"quoted\" word and a \\ backslash\n`
	body := io.LimitReader(&repeatReader{s: line}, n)
	return &hugePayload{r: io.MultiReader(strings.NewReader(hugeHead), body, strings.NewReader(hugeTail))}
}

func (h *hugePayload) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.read += int64(n)
	return n, err
}

type repeatReader struct {
	s   string
	off int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.s[r.off:])
		n += c
		r.off = (r.off + c) % len(r.s)
	}
	return n, nil
}

// An agent may hand the hook 50 MB (a tool response holding a whole file).
// The hook must stop reading at the frame cap instead of reading, parsing
// and shrinking all of it (it took 750 ms of a 200 ms budget), and still
// journal an event the daemon can route: the envelope, without the bulk,
// marked as truncated. The reduced event is valid JSON.
func TestHookReadsAtMostAFrameOfStdin(t *testing.T) {
	home := t.TempDir()
	getenv := func(k string) string { return map[string]string{"WEAVE_AGENTD_HOME": home}[k] }
	in := newHugePayload(50 << 20)
	if code := RunHook([]string{"claude"}, in, io.Discard, getenv); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if in.read > MaxFrame+1 {
		t.Errorf("the hook read %d bytes of stdin; at most MaxFrame+1 = %d", in.read, MaxFrame+1)
	}
	b, err := os.ReadFile(filepath.Join(home, "inbox.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var ev Event
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatalf("inbox: %v", err)
	}
	if ev.Session != "s-huge" || ev.Name != "PostToolUse" || ev.Agent != AgentClaude || !ev.Truncated || ev.Invalid != "" {
		t.Fatalf("event envelope: %+v", ev)
	}
	if !slices.Contains(ev.Dropped, "tool_response") {
		t.Errorf("dropped = %v, want tool_response named", ev.Dropped)
	}
	var p map[string]json.RawMessage
	if err := json.Unmarshal(ev.Payload, &p); err != nil {
		t.Fatalf("payload: %v", err)
	}
	for _, k := range []string{"session_id", "transcript_path", "cwd", "hook_event_name", "tool_name", "tool_input"} {
		if _, ok := p[k]; !ok {
			t.Errorf("payload lost %s: %s", k, ev.Payload)
		}
	}
	if len(b) > 4<<10 {
		t.Errorf("the journaled event is %d bytes; the bulk should be gone", len(b))
	}
}

// A payload under the cap is untouched by the cut path.
func TestHookKeepsAPayloadUnderTheCapWhole(t *testing.T) {
	home := t.TempDir()
	getenv := func(k string) string { return map[string]string{"WEAVE_AGENTD_HOME": home}[k] }
	in := newHugePayload(1 << 20)
	RunHook(nil, in, io.Discard, getenv)
	b, _ := os.ReadFile(filepath.Join(home, "inbox.jsonl"))
	var ev Event
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Truncated || len(ev.Dropped) > 0 || int64(len(ev.Payload)) != in.read {
		t.Fatalf("a 1 MiB payload was changed: truncated=%v dropped=%v %d of %d bytes", ev.Truncated, ev.Dropped, len(ev.Payload), in.read)
	}
}

func TestReduceCut(t *testing.T) {
	tests := []struct {
		in, want string
		dropped  []string
		ok       bool
	}{
		{`{"a":1,"b":"x\"y`, `{"a":1}`, []string{"b"}, true},
		{`{"a":1,"b":"x\\`, `{"a":1}`, []string{"b"}, true},
		{`{"a":"q\\","b":{"c":[1,"]}"],"d`, `{"a":"q\\"}`, []string{"b"}, true},
		{`{"a":{"x":"}"},"b":[{"c":1}],`, `{"a":{"x":"}"},"b":[{"c":1}]}`, nil, true},
		{` { "a" : true , "b" : 12`, `{"a":true}`, []string{"b"}, true},
		{`{"a":1,"bb`, `{"a":1}`, nil, true},
		{`{"a":1,"b"`, `{"a":1}`, []string{"b"}, true},
		{`{"a":nul`, `{}`, []string{"a"}, true},
		{`{"big":"` + strings.Repeat("z", maxCutMember) + `","s":"k","t`, `{"s":"k"}`, []string{"big"}, true},
		{`["a","b`, ``, nil, false},
		{`not json at all`, ``, nil, false},
		{`{"a" 1`, ``, nil, false},
	}
	for _, tt := range tests {
		got, dropped, ok := reduceCut([]byte(tt.in))
		if ok != tt.ok || string(got) != tt.want || !slices.Equal(dropped, tt.dropped) {
			t.Errorf("reduceCut(%.40q) = %s %v %v; want %s %v %v", tt.in, got, dropped, ok, tt.want, tt.dropped, tt.ok)
		}
	}
}

// Whatever the payload and wherever it is cut, what reduceCut keeps is a
// valid JSON object (or it says it cannot).
func FuzzReduceCut(f *testing.F) {
	f.Add([]byte(hugeHead+`abc\"def`+hugeTail), uint16(200))
	f.Add([]byte(`{"a":[{"b":"}\\\""}],"c":-1.5e3,"d":null}`), uint16(20))
	f.Fuzz(func(t *testing.T, b []byte, at uint16) {
		cut := b[:min(int(at), len(b))]
		got, _, ok := reduceCut(cut)
		if !ok {
			return
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(got, &m); err != nil {
			t.Fatalf("reduceCut(%q) = %q: %v", cut, got, err)
		}
	})
}
