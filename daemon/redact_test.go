package daemon

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/installer/config"
	"github.com/weave-agentd/weave-agentd/internal/genaischema"
)

func TestRedactorMasksSecrets(t *testing.T) {
	r, err := NewRedactor(&config.Config{Redact: []string{`ACME-[0-9]{6}`}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ in, secret string }{
		{"key sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789", "sk-ant-api03-AbCdEfGh"},
		{"export OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwxyz123456", "sk-proj-abcdefghij"},
		{"aws AKIAIOSFODNN7EXAMPLE here", "AKIAIOSFODNN7EXAMPLE"},
		{"token ghp_abcdefghijklmnopqrstuvwxyz0123456789AB", "ghp_abcdefghijklmnop"},
		{"slack xoxb-123456789012-abcdefghij", "xoxb-123456789012"},
		{"google AIzaSyA1234567890abcdefghijklmnopqrstuv", "AIzaSyA1234567890"},
		{"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc", "eyJhbGciOiJIUzI1NiJ9"},
		{"clone https://user:hunter2@github.com/x.git", "hunter2"},
		{"DB_PASSWORD=correct-horse-battery", "correct-horse"},
		{"\"client_secret\": \"s3cr3tvalue\"", "s3cr3tvalue"},
		{"-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----", "MIIEpAIBAAKCAQEA"},
		{"internal ticket ACME-123456", "ACME-123456"},
	}
	for _, tt := range tests {
		got := r.String(tt.in)
		if strings.Contains(got, tt.secret) || !strings.Contains(got, "REDACTED") {
			t.Errorf("String(%q) = %q: secret %q survived", tt.in, got, tt.secret)
		}
	}
	for _, clean := range []string{`"usage":{"input_tokens":1234,"cache_read_input_tokens":35110,"output_tokens_details":{"thinking_tokens":12}}`,
		`{"stop_reason":"max_tokens"}`, "go build ./...", "the token count was 42", "see https://example.com/docs", "task-123"} {
		if got := r.String(clean); got != clean {
			t.Errorf("String(%q) = %q: changed clean text", clean, got)
		}
	}
}

func TestRedactJSONStaysValid(t *testing.T) {
	r, _ := NewRedactor(&config.Config{})
	in := `{"tool_input":{"command":"curl -H 'Authorization: Bearer abcdefghijklmnopqrstuvwxyz' https://u:p4ssw0rd@h/x"},"tool_response":{"stdout":"AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"}}`
	out := r.RedactJSON([]byte(in))
	if !json.Valid(out) {
		t.Fatalf("invalid JSON: %s", out)
	}
	for _, s := range []string{"abcdefghijklmnopqrstuvwxyz", "p4ssw0rd", "wJalrXUtnFEMI"} {
		if strings.Contains(string(out), s) {
			t.Errorf("%q survived in %s", s, out)
		}
	}
}

// A user pattern that matches across a JSON string's end would break the
// line: Line then masks string by string, and never returns the secret.
func TestLineMasksStringByStringWhenAPatternBreaksJSON(t *testing.T) {
	r, err := NewRedactor(&config.Config{Redact: []string{`hunter2[^x]*`}})
	if err != nil {
		t.Fatal(err)
	}
	in := []byte(`{"message":{"content":"my pw is hunter2 ok","role":"user"},"n":1.50}`)
	out := r.Line(in)
	if !json.Valid(out) || strings.Contains(string(out), "hunter2") || !strings.Contains(string(out), `"n":1.50`) {
		t.Fatalf("Line = %s", out)
	}
	bad := []byte(`{"prompt":"sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789`) // truncated JSON
	if out := r.Line(bad); strings.Contains(string(out), "AbCdEfGhIjKlMnOp") {
		t.Fatalf("Line kept the secret of an invalid line: %s", out)
	}
	if out := r.RedactJSON(bad); strings.Contains(string(out), "AbCdEfGhIjKlMnOp") {
		t.Fatalf("RedactJSON kept the secret of an invalid document: %s", out)
	}
	clean := []byte(`{"type":"assistant","message":{"usage":{"input_tokens":3}}}`)
	if out := r.Line(clean); &out[0] != &clean[0] {
		t.Error("Line copied a line without secrets")
	}
}

func TestMetadataModeDropsContent(t *testing.T) {
	r, _ := NewRedactor(&config.Config{Content: "metadata", MaxAttributeBytes: 1 << 10})
	out := r.RedactJSON([]byte(`{"session_id":"s","prompt":"my secret plan","tool_input":{"a":1}}`))
	if strings.Contains(string(out), "secret plan") || !strings.Contains(string(out), `"session_id":"s"`) {
		t.Fatalf("payload = %s", out)
	}
	sp := genai.Span{Attrs: []attribute.KeyValue{
		attribute.String("gen_ai.input.messages", "[...]"),
		attribute.String("gen_ai.tool.call.result", "out"),
		attribute.String("gen_ai.tool.name", "Bash"),
		attribute.Int("gen_ai.usage.input_tokens", 3),
	}}
	r.Span(&sp)
	if len(sp.Attrs) != 2 || sp.Attrs[0].Key != "gen_ai.tool.name" {
		t.Fatalf("attrs = %v", sp.Attrs)
	}
}

func TestAttributeCapTruncatesWithMarker(t *testing.T) {
	r, _ := NewRedactor(&config.Config{MaxAttributeBytes: 10})
	sp := genai.Span{Attrs: []attribute.KeyValue{attribute.String("k", "ééééééééééééé")}}
	r.Span(&sp)
	v := sp.Attrs[0].Value.AsString()
	if !strings.Contains(v, "…[truncated ") || !strings.HasPrefix(v, "ééééé") || len(v) > 40 {
		t.Fatalf("capped = %q", v)
	}
}

func FuzzRedactJSON(f *testing.F) {
	r, _ := NewRedactor(&config.Config{})
	f.Add([]byte(`{"a":"sk-ant-xxxxxxxxxxxxxxxxxxxxxxxx"}`))
	f.Add([]byte(`{"u":"https://a:b@c"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		out := r.RedactJSON(b)
		if json.Valid(b) && !json.Valid(out) {
			t.Fatalf("redaction broke JSON: %s -> %s", b, out)
		}
	})
}

func TestRedactionWindowsNeverCutASecret(t *testing.T) {
	r, _ := NewRedactor(&config.Config{})
	jwt := "eyJ" + strings.Repeat("A", 2000) + ".sig" + strings.Repeat("B", 300)
	filler := strings.Repeat("lorem ipsum https://example.com/x token count ", 2000)
	for _, tt := range []struct{ in, secret string }{
		{filler + "Authorization: Bearer " + jwt + " " + filler, "BBBBBBBB"},
		{filler + "git clone https://bob:" + strings.Repeat("p", 200) + "@h/r.git" + filler, "pppppppp"},
		{filler + "export " + strings.Repeat("X", 100) + "_SECRET_TOKEN=abc" + strings.Repeat("z", 400) + "\n" + filler, "zzzzzzzz"},
		{filler + "key=sk-ant-api03-" + strings.Repeat("k", 300) + filler, "kkkkkkkk"},
	} {
		got := r.String(tt.in)
		if strings.Contains(got, tt.secret) {
			i := strings.Index(got, tt.secret)
			t.Errorf("secret survived near %q", got[max(0, i-80):min(len(got), i+20)])
		}
		if len(got) < len(filler) {
			t.Errorf("redaction ate the text around the secret")
		}
	}
}

func BenchmarkRedactToolOutput(b *testing.B) {
	r, _ := NewRedactor(&config.Config{})
	s := strings.Repeat("ok  \tgithub.com/x/y\t0.01s https://pkg.go.dev/token?x=1 input_tokens=42\n", 2000)
	b.SetBytes(int64(len(s)))
	for i := 0; i < b.N; i++ {
		_ = r.String(s)
	}
}

// BenchmarkRedactTranscriptLines masks every line of a real transcript, as
// the daemon does before its builder sees them.
func BenchmarkRedactTranscriptLines(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("..", "..", "shared", "fixtures", "claude-code", "spotter-v2.1.38-39", "4d5611e5-241a-462a-8d15-5122611a9569.jsonl"))
	if err != nil {
		b.Skip("fixtures absent")
	}
	lines := bytes.Split(data, []byte("\n"))
	r, _ := NewRedactor(&config.Config{})
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		for _, l := range lines {
			_ = r.Line(l)
		}
	}
}

// The GenAI JSON attributes stay valid JSON that matches the official
// schemas after masking and the size cap, even when a user pattern matches
// across a JSON string's end; plain attributes are still cut with the marker.
func TestJSONAttributesStayValidUnderTheCap(t *testing.T) {
	v := genaischema.Load(t)
	r, err := NewRedactor(&config.Config{MaxAttributeBytes: 4096, Redact: []string{`hunter2[^x]*`}})
	if err != nil {
		t.Fatal(err)
	}
	var defs []map[string]any
	for i := range 30 {
		defs = append(defs, map[string]any{"type": "function", "name": fmt.Sprintf("T%d", i),
			"description": strings.Repeat("describes the tool ", 40), "parameters": map[string]any{"type": "object"}})
	}
	tools, _ := json.Marshal(defs)
	msgs, _ := json.Marshal([]genai.Message{{Role: "user", Parts: []genai.Part{{Type: "text", Content: "pw hunter2 then " + strings.Repeat("ü", 5000)}}}})
	sp := genai.Span{Attrs: []attribute.KeyValue{
		attribute.String(genai.ToolDefinitionsKey, string(tools)),
		attribute.String(genai.InputMessagesKey, string(msgs)),
		attribute.String("gen_ai.tool.call.result", strings.Repeat("r", 5000)),
	}}
	r.Span(&sp)
	errs, n := v.Attrs(sp.Attrs)
	if n != 2 || len(errs) > 0 {
		t.Fatalf("checked %d attributes: %v", n, errs)
	}
	for _, kv := range sp.Attrs {
		s := kv.Value.AsString()
		if len(s) > 4096+32 || strings.Contains(s, "hunter2") {
			t.Errorf("%s: %d bytes, or the secret kept: %.200s", kv.Key, len(s), s)
		}
	}
	if res := sp.Attrs[2].Value.AsString(); !strings.HasSuffix(res, "…[truncated 904 bytes]") {
		t.Errorf("plain attribute not cut with the marker: %.100s", res[len(res)-40:])
	}
}
