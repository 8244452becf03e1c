package claude

import (
	"path/filepath"
	"testing"

	"github.com/weave-agentd/weave-agentd/genai"
)

func TestTurn2_1_291(t *testing.T) {
	fx := fixturesDir(t)
	path := filepath.Join(fx, "claude-code/forgelore-hooks-v2.1.289-291/2.1.291/transcript.jsonl")
	session := "7ee671e6-598e-454b-abd9-a0db9258f0da"
	b := New(session, Options{TranscriptPath: path})
	for _, l := range readLines(t, path) {
		b.Line(path, l)
	}
	settle(b)
	var turns []genai.Span
	for _, s := range b.Take() {
		if s.Name == "invoke_agent claude-code" {
			turns = append(turns, s)
		}
	}
	if len(turns) != 1 {
		t.Fatalf("got %d turn spans, want 1", len(turns))
	}
	s := turns[0]
	a := attrMap(s)
	wantTrace := genai.NewTraceID("claude-code", session, "4fff4ddf-6363-4f12-a6ac-62d10db1f18d")
	if s.TraceID != wantTrace || s.SpanID != genai.NewSpanID(wantTrace, genai.KindTurn, "turn") {
		t.Errorf("ids = %s/%s", s.TraceID, s.SpanID)
	}
	// Hand count: three responses, usage once per message id.
	// input 2+2+2, cache_creation 18580+10728+4276, cache_read 10341+28921+39649, output 78+73+59.
	want := map[string]string{
		"gen_ai.operation.name":                    "invoke_agent",
		"gen_ai.provider.name":                     "anthropic",
		"gen_ai.agent.name":                        "claude-code",
		"gen_ai.conversation.id":                   session,
		"gen_ai.request.model":                     "claude-opus-5",
		"gen_ai.usage.output_tokens":               "210",
		"gen_ai.usage.cache_creation.input_tokens": "33584",
		"gen_ai.usage.cache_read.input_tokens":     "78911",
		"gen_ai.usage.input_tokens":                "112501",
	}
	for k, v := range want {
		if a[k] != v {
			t.Errorf("%s = %q, want %q", k, a[k], v)
		}
	}
	if got := s.Start.Format("15:04:05.000"); got != "10:15:11.401" {
		t.Errorf("start %s", got)
	}
	if got := s.End.Format("15:04:05.000"); got != "10:15:29.017" {
		t.Errorf("end %s", got)
	}
	res := map[string]string{}
	for _, kv := range s.Resource {
		res[string(kv.Key)] = kv.Value.Emit()
	}
	if res["service.name"] != "claude-code" || res["service.version"] != "2.1.291" {
		t.Errorf("resource %v", res)
	}
}
