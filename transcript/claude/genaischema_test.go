package claude

import (
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/internal/genaischema"
	"github.com/weave-agentd/weave-agentd/internal/testkit"
	"github.com/weave-agentd/weave-agentd/transcript/internal/schematest"
)

// TestGenAISchemas: every GenAI JSON attribute of every span built from the
// real transcripts (each fixture version, and the 2.1.328 runs replayed with
// their hooks) matches the official schema as built, and after the daemon's
// redaction and size cap at 4096 bytes and at the default.
func TestGenAISchemas(t *testing.T) {
	fx := testkit.Fixtures(t)
	scenarios := map[string]func(t *testing.T) []genai.Span{}
	for _, gc := range goldenCases {
		scenarios[gc.name] = func(t *testing.T) []genai.Span {
			session, opts, feed := loadCase(t, fx, gc)
			return runFeed(session, opts, feed)
		}
	}
	for _, dir := range liveDirs(t) {
		scenarios["2.1.328-"+filepath.Base(dir)] = func(t *testing.T) []genai.Span {
			session, opts, in := liveFeed(t, dir)
			return playLive(New(session, opts), in)
		}
	}
	schematest.Check(t, scenarios, false, slices.Collect(maps.Keys(genaischema.Files))...)
}

// A small image in a prompt is a proper BlobPart (with its modality: the
// schema's GenericPart would accept anything, backends draw only a blob).
func TestImagePromptIsABlobPart(t *testing.T) {
	v := genaischema.Load(t)
	line := `{"type":"user","uuid":"u1","sessionId":"s","timestamp":"2026-10-01T12:00:00.000Z","message":{"role":"user","content":[` +
		`{"type":"text","text":"what is this?"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}}]}}`
	r, err := parseLine([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	parts := promptParts(&r.Message.Content)
	want := genai.Part{Type: "blob", MimeType: "image/png", Modality: "image", Content: "iVBORw0KGgo="}
	if len(parts) != 2 || !reflect.DeepEqual(parts[1], want) {
		t.Fatalf("parts = %+v", parts)
	}
	kv := genai.MessagesAttr(genai.InputMessagesKey, []genai.Message{{Role: "user", Parts: parts}})
	if err := v.Validate(genai.InputMessagesKey, kv.Value.AsString()); err != nil {
		t.Fatal(err)
	}
}

func TestOutputFinish(t *testing.T) {
	text := []genai.Part{{Type: "text", Content: "hi"}}
	call := []genai.Part{{Type: "text", Content: "running"}, {Type: "tool_call", Name: "Bash"}}
	for _, c := range []struct {
		stop  string
		parts []genai.Part
		want  string
	}{
		{"end_turn", text, "stop"}, {"stop_sequence", text, "stop"}, {"max_tokens", text, "length"},
		{"tool_use", call, "tool_call"}, {"refusal", text, "content_filter"},
		{"", call, "tool_call"}, {"", text, "stop"}, {"", nil, "stop"},
		{"end_turn", call, "stop"}, // a recorded reason wins
	} {
		if got := outputFinish(c.stop, c.parts); got != c.want {
			t.Errorf("outputFinish(%q, %d parts) = %q, want %q", c.stop, len(c.parts), got, c.want)
		}
	}
}
