package genai_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/internal/genaischema"
)

var jsonKeys = []string{genai.InputMessagesKey, genai.OutputMessagesKey, genai.SystemInstructionsKey, genai.ToolDefinitionsKey}

func marshal(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// check asserts the properties every capped value has.
func check(t testing.TB, v *genaischema.Validator, key, in, out string, max int) {
	t.Helper()
	if !json.Valid([]byte(out)) {
		t.Fatalf("%s capped at %d is not valid JSON: %q", key, max, out)
	}
	if max >= 2 && len(out) > max {
		t.Fatalf("%s capped at %d is %d bytes: %q", key, max, len(out), out)
	}
	if v != nil && v.Validate(key, in) == nil {
		if err := v.Validate(key, out); err != nil {
			t.Fatalf("%s capped at %d no longer matches its schema: %v\n%s", key, max, err, out)
		}
	}
}

func TestCapJSONKeepsWhatFits(t *testing.T) {
	in := `[{"role":"user","parts":[{"type":"text","content":"hi \u003cthere\u003e"}]}]`
	if got := genai.CapJSON(genai.InputMessagesKey, in, len(in)); got != in {
		t.Errorf("a value that fits changed: %s", got)
	}
}

func TestCapJSONShortensLongText(t *testing.T) {
	v := genaischema.Load(t)
	long := strings.Repeat("abcdefghij", 1000)
	in := marshal(t, []genai.Message{{Role: "assistant", FinishReason: "stop", Parts: []genai.Part{
		{Type: "reasoning", Content: long},
		{Type: "text", Content: "short answer"},
		{Type: "tool_call", ID: "t1", Name: "Bash", Arguments: json.RawMessage(`{"command":"` + long + `","n":3}`)},
	}}})
	out := genai.CapJSON(genai.OutputMessagesKey, in, 4096)
	check(t, v, genai.OutputMessagesKey, in, out, 4096)
	var got []genai.Message
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(got[0].Parts) != 3 || got[0].FinishReason != "stop" {
		t.Fatalf("structure changed: %s", out)
	}
	p := got[0].Parts
	if !strings.HasPrefix(p[0].Content, "abcdefghij") || !strings.Contains(p[0].Content, "…[truncated ") {
		t.Errorf("long reasoning not shortened with a marker: %q", p[0].Content)
	}
	if p[1].Content != "short answer" {
		t.Errorf("short text changed: %q", p[1].Content)
	}
	var args struct {
		Command string `json:"command"`
		N       int    `json:"n"`
	}
	if err := json.Unmarshal(p[2].Arguments, &args); err != nil || args.N != 3 || !strings.Contains(args.Command, "…[truncated ") {
		t.Errorf("arguments not shortened inside their structure: %s (%v)", p[2].Arguments, err)
	}
	if len(out) < 3000 {
		t.Errorf("only %d of 4096 bytes used: strings cut shorter than needed", len(out))
	}
}

func TestCapJSONDropsTrailingParts(t *testing.T) {
	v := genaischema.Load(t)
	var parts []genai.Part
	for i := range 200 {
		parts = append(parts, genai.Part{Type: "text", Content: fmt.Sprintf("part %d: %s", i, strings.Repeat("x", 100))})
	}
	in := marshal(t, []genai.Message{{Role: "user", Parts: parts[:100]}, {Role: "user", Parts: parts[100:]}})
	out := genai.CapJSON(genai.InputMessagesKey, in, 2048)
	check(t, v, genai.InputMessagesKey, in, out, 2048)
	var got []genai.Message
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("the second message lost all its parts and should go: %s", out)
	}
	ps := got[0].Parts
	last := ps[len(ps)-1].Content
	if !strings.HasPrefix(ps[0].Content, "part 0: ") || !strings.HasPrefix(last, fmt.Sprintf("[%d more parts omitted", 200-(len(ps)-1))) {
		t.Errorf("want the first parts and a marker counting the rest, got first %q last %q", ps[0].Content, last)
	}
}

func TestCapJSONBlobBecomesPlaceholder(t *testing.T) {
	v := genaischema.Load(t)
	in := `[{"role":"user","parts":[{"type":"text","content":"look"},{"type":"blob","modality":"image","mime_type":"image/png","content":"` + strings.Repeat("QUJD", 5000) + `"}]}]`
	out := genai.CapJSON(genai.InputMessagesKey, in, 1024)
	check(t, v, genai.InputMessagesKey, in, out, 1024)
	if !strings.Contains(out, `"[image/png, 20000 bytes base64, omitted: size cap]"`) || strings.Contains(out, "QUJD") {
		t.Errorf("a blob over the cap must become a placeholder, never cut base64: %s", out)
	}
}

func TestCapJSONToolDefinitions(t *testing.T) {
	v := genaischema.Load(t)
	type def struct {
		Type        string          `json:"type"`
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Parameters  json.RawMessage `json:"parameters"`
	}
	params := json.RawMessage(`{"type":"object","properties":{"command":{"type":"string","description":"` + strings.Repeat("d", 300) + `"}},"required":["command"]}`)
	var defs []def
	for i := range 40 {
		defs = append(defs, def{"function", fmt.Sprintf("Tool%02d", i), strings.Repeat("Runs a thing. ", 200), params})
	}
	in := marshal(t, defs)

	// At a cap that holds every definition without parameters.
	out := genai.CapJSON(genai.ToolDefinitionsKey, in, 8192)
	check(t, v, genai.ToolDefinitionsKey, in, out, 8192)
	var got []def
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 40 || got[39].Name != "Tool39" || got[0].Parameters != nil || !strings.Contains(got[0].Description, "…[truncated ") {
		t.Errorf("want all 40 tools, descriptions cut, no parameters: %s", out)
	}

	// At 4096 some definitions go, and a marker counts them.
	out = genai.CapJSON(genai.ToolDefinitionsKey, in, 4096)
	check(t, v, genai.ToolDefinitionsKey, in, out, 4096)
	got = nil
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	n := len(got) - 1
	if n < 10 || got[0].Name != "Tool00" || got[n].Type != "omitted" || got[n].Name != fmt.Sprintf("[%d more tool definitions omitted: size cap]", 40-n) {
		t.Errorf("want the first tools then a marker: %s", out)
	}

	// A cap that holds the descriptions whole keeps the parameters.
	small := marshal(t, []def{{"function", "Bash", strings.Repeat("Runs. ", 100), params}})
	out = genai.CapJSON(genai.ToolDefinitionsKey, small, len(small)-100)
	check(t, v, genai.ToolDefinitionsKey, small, out, len(small)-100)
	if !strings.Contains(out, `"parameters":{"type":"object"`) {
		t.Errorf("parameters dropped although cutting the description was enough: %s", out)
	}
}

func TestCapJSONNotJSON(t *testing.T) {
	in := `[{"role":"user","parts":[{"type":"text","content":"cut here ` + strings.Repeat("y", 200) // a cut serialized string
	out := genai.CapJSON(genai.InputMessagesKey, in, 120)
	check(t, nil, genai.InputMessagesKey, in, out, 120)
	var s string
	if err := json.Unmarshal([]byte(out), &s); err != nil || !strings.HasPrefix(s, `[{"role"`) {
		t.Errorf("invalid JSON must come back as a JSON string of its text: %s", out)
	}
}

// randomDoc builds a schema-valid value of one of the four attributes.
func randomDoc(r *rand.Rand, key string) any {
	str := func() string {
		alphabet := []string{"a", "b", "\n", "\"", "\\", "<", "é", "日本", "\u2028", "😀", " ", "x"}
		var sb strings.Builder
		n := r.IntN(5)
		for range n {
			n *= 1 + r.IntN(8)
		}
		for range n {
			sb.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		return sb.String()
	}
	part := func() any {
		switch r.IntN(5) {
		case 0:
			return map[string]any{"type": "reasoning", "content": str()}
		case 1:
			return map[string]any{"type": "tool_call", "id": str(), "name": "Bash", "arguments": map[string]any{"command": str(), "list": []any{str(), 3, true, nil}}}
		case 2:
			return map[string]any{"type": "tool_call_response", "id": "x", "response": str()}
		case 3:
			return map[string]any{"type": "blob", "modality": "image", "mime_type": "image/png", "content": strings.Repeat("QUJD", r.IntN(300))}
		}
		return map[string]any{"type": "text", "content": str()}
	}
	parts := func() []any {
		ps := []any{}
		for range r.IntN(6) {
			ps = append(ps, part())
		}
		return ps
	}
	var doc []any
	for range r.IntN(6) {
		switch key {
		case genai.InputMessagesKey:
			doc = append(doc, map[string]any{"role": "user", "parts": parts()})
		case genai.OutputMessagesKey:
			doc = append(doc, map[string]any{"role": "assistant", "parts": parts(), "finish_reason": "stop"})
		case genai.SystemInstructionsKey:
			doc = append(doc, part())
		case genai.ToolDefinitionsKey:
			doc = append(doc, map[string]any{"type": "function", "name": str() + "n", "description": str(),
				"parameters": map[string]any{"type": "object", "properties": map[string]any{"a": map[string]any{"type": "string", "description": str()}}}})
		}
	}
	if doc == nil {
		doc = []any{}
	}
	return doc
}

// TestCapJSONProperties: for random schema-valid documents and caps, the
// result is valid JSON, within the cap (from 2 bytes up) and schema-valid.
func TestCapJSONProperties(t *testing.T) {
	v := genaischema.Load(t)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		key := jsonKeys[i%len(jsonKeys)]
		in := marshal(t, randomDoc(r, key))
		if err := v.Validate(key, in); err != nil {
			t.Fatalf("generator made an invalid document: %v\n%s", err, in)
		}
		for _, max := range []int{2, 10, 40, 100, 300, 1000, 4096} {
			check(t, v, key, in, genai.CapJSON(key, in, max), max)
		}
	}
}

func FuzzCapJSON(f *testing.F) {
	v := genaischema.Load(f)
	f.Add(uint8(0), `[{"role":"user","parts":[{"type":"text","content":"hello world"}]}]`, 20)
	f.Add(uint8(1), `[{"role":"assistant","parts":[{"type":"tool_call","id":"a","name":"Bash","arguments":{"command":"ls -la"}}],"finish_reason":"tool_call"}]`, 60)
	f.Add(uint8(2), `[{"type":"text","content":"You are Claude Code."},{"type":"text","content":"Be brief."}]`, 40)
	f.Add(uint8(3), `[{"type":"function","name":"Bash","description":"Runs a command","parameters":{"type":"object"}}]`, 50)
	f.Add(uint8(0), `{"not":"a list"}`, 5)
	f.Add(uint8(1), `[{"role":"x","parts":[1,2]}]`, 9)
	f.Add(uint8(2), `not json at all`, 12)
	f.Fuzz(func(t *testing.T, k uint8, in string, max int) {
		if max < 0 || max > 1<<16 {
			return
		}
		key := jsonKeys[int(k)%len(jsonKeys)]
		check(t, v, key, in, genai.CapJSON(key, in, max), max)
	})
}
