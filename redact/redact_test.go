package redact

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"

	"github.com/weave-agentd/weave-agentd/config"
	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/internal/genaischema"
)

func TestRedactorMasksSecrets(t *testing.T) {
	r, err := New(&config.Config{Redact: []string{`ACME-[0-9]{6}`}})
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
	r, _ := New(&config.Config{})
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
	r, err := New(&config.Config{Redact: []string{`hunter2[^x]*`}})
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
	r, _ := New(&config.Config{Content: "metadata", MaxAttributeBytes: 1 << 10})
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
	r, _ := New(&config.Config{MaxAttributeBytes: 10})
	sp := genai.Span{Attrs: []attribute.KeyValue{attribute.String("k", "ééééééééééééé")}}
	r.Span(&sp)
	v := sp.Attrs[0].Value.AsString()
	if !strings.Contains(v, "…[truncated ") || !strings.HasPrefix(v, "ééééé") || len(v) > 40 {
		t.Fatalf("capped = %q", v)
	}
}

func FuzzRedactJSON(f *testing.F) {
	r, _ := New(&config.Config{})
	f.Add([]byte(`{"a":"sk-ant-xxxxxxxxxxxxxxxxxxxxxxxx"}`))
	f.Add([]byte(`{"u":"https://a:b@c"}`))
	for _, tt := range redactCases {
		b, _ := json.Marshal(map[string]string{"text": tt.in})
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		out := r.RedactJSON(b)
		if json.Valid(b) && !json.Valid(out) {
			t.Fatalf("redaction broke JSON: %s -> %s", b, out)
		}
	})
}

// FuzzSecretInAnyText: a known secret between any two texts, in a
// transcript line, never survives Line, as is or decoded.
func FuzzSecretInAnyText(f *testing.F) {
	r, _ := New(&config.Config{})
	f.Add("lorem ipsum", "dolor", uint8(0), false)
	f.Add(`{"a":`, `"}`, uint8(3), true)
	f.Add("\x1b[0m", "\u0041", uint8(9), true)
	f.Fuzz(func(t *testing.T, before, after string, i uint8, escape bool) {
		tt := redactCases[int(i)%len(redactCases)]
		content, _ := json.Marshal(before + " " + tt.in + " " + after)
		line := `{"type":"user","message":{"content":` + string(content) + `}}`
		if escape {
			line = strings.ReplaceAll(line, tt.tell, fmt.Sprintf(`\u%04x`, tt.tell[0])+tt.tell[1:])
		}
		out := r.Line([]byte(line))
		var v struct {
			Message struct{ Content string } `json:"message"`
		}
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("Line broke the JSON: %s", out)
		}
		for _, s := range []string{string(out), v.Message.Content, unescapeAll(v.Message.Content)} {
			if strings.Contains(s, tt.tell) {
				t.Fatalf("%s: %q survived in %q", tt.name, tt.tell, s)
			}
		}
	})
}

func TestRedactionWindowsNeverCutASecret(t *testing.T) {
	r, _ := New(&config.Config{})
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
	r, _ := New(&config.Config{})
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
	r, _ := New(&config.Config{})
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
	r, err := New(&config.Config{MaxAttributeBytes: 4096, Redact: []string{`hunter2[^x]*`}})
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

// redactCases are real-looking secrets the built-in rules must mask, each
// with a piece of it that must not survive.
var redactCases = []struct{ name, in, tell string }{
	// Settings, not code: capitals, or no spaces around the operator.
	{"env camelCase password", "PASSWORD=MyPassword", "MyPassword"},
	{"env dotted secret", "export APP_SECRET=Summer.Time", "Summer.Time"},
	{"unspaced camelCase password", "db password=HorsePassword", "HorsePassword"},
	{"bare JWT", "the id_token is eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwiaWF0IjoxNTE2MjM5MDIyfQ.NHVaYe26MbtOYhSKkoKYdFVomg4i8ZJd8_-RU8VNbftc4TSMb4bXP3l3YlNWACwyXPGffz5aXHc6lty1Y2t4SWRqGteragsVdZufDn5BlnJl9pdR_kdVFUsra2rWKEofkZeIC4yWytE58sMIihvo9H1ScmmVwBcQP6XETqYd0aSHp1gOa9RdUPDvoXQ5oqygTqVtxaDr6wUFKrKItgBMzWIdNZ6y7O9E0DhEPTbE9rfBo6KTFsHAZnMg4k68CDp2woYIaXbmYTWcvbzIuHO7_37GT79XdIwkm95QJ7hYC9RiwrV7mesbY4PAahERJawntho0my942XheVLmGwLMBkQ", "NHVaYe26MbtOYhSKkoKY"},
	{"JWT in a cookie", `Set-Cookie: session=eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyIjoiYm9iIiwicm9sZSI6ImFkbWluIn0.r4nD0mS1gnAtUr3xYzAbCdEfGh; Path=/`, "r4nD0mS1gnAtUr3xYzAb"},
	{"redis, empty user", "REDIS_URL=redis://:Gq7vXk2pLm9zRt4w@cache.internal:6379/0", "Gq7vXk2pLm9zRt4w"},
	{"rediss, empty user", "connecting to rediss://:hunter2hunter2@10.0.0.5:6380", "hunter2hunter2"},
	{"password with /", "DATABASE_URL=postgres://app:pa/ss9Wq+zz@db.internal:5432/prod", "ss9Wq+zz"},
	{"password with / (mongodb)", "mongodb+srv://svc:Xy7/Qw3rT/zz@cluster0.mongodb.net/test", "Qw3rT"},
	{"private key, no END", "$ head -3 ~/.ssh/id_rsa\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\nVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK\n", "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun"},
	{"openssh private key, no END", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW", "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAE"},
	{"pgp private key", "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF5pZ2cBCADDq8bE7lVbTx2vN\n-----END PGP PRIVATE KEY BLOCK-----", "lQOYBF5pZ2cBCADDq8bE7lVbTx2vN"},
	{"AWS key after _", "AWS_KEY_AKIAQWERTYUIOPASDFGH=1", "QWERTYUIOPASDFGH"},
	{"AWS key in ANSI colour", "\x1b[31mAKIAZXCVBNMASDFGHJKL\x1b[0m", "ZXCVBNMASDFGHJKL"},
	{"AWS key in escaped ANSI colour", `\u001b[1;33mASIAPOIUYTREWQLKJHGF\u001b[0m`, "POIUYTREWQLKJHGF"},
	{"GitHub token after \\n", `output:\nghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5`, "aB3dE5fG7hI9jK1lM3nO5"},
	{"OpenAI key after \\t", `OPENAI\tsk-proj-Pq8Rs7Tu6Vw5Xy4Za3Bc2De1`, "Pq8Rs7Tu6Vw5Xy4Za3Bc2De1"},
	{"Slack token in colour", "\x1b[32mxoxb-1234567890-Mn8Bv7Cx6Zl5Kj4Hg3\x1b[0m", "Mn8Bv7Cx6Zl5Kj4Hg3"},
	{"\\u-escaped AWS key", `key \u0041KIAQWERTYUIOPASDFGH`, "QWERTYUIOPASDFGH"},
	{"\\u-escaped Anthropic key", `\u0073\u006b-ant-api03-Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0Lm`, "Zx9Qw8Er7Ty6Ui5Op4As3Df2"},
	{"escaped / in URL", `postgres:\/\/admin:Sup3rS3cretPw0rd@db.internal\/app`, "Sup3rS3cretPw0rd"},
	{"\\u-escaped @ in URL", `https://bob:Tr0ub4dor3xyz\u0040git.example.com/r.git`, "Tr0ub4dor3xyz"},
	{"password with @", "DATABASE_URL=postgres://admin:p@ssW0rdXyz9@db.internal:5432/app", "ssW0rdXyz9"},
	{"password with @ and :", "mongodb+srv://user:pa@ss:w0rdQz7@cluster0.example.net/db", "w0rdQz7"},
	{"private key, END only (its BEGIN in an earlier line)", "the rest of the file:\nZm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6\nAbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/AbCdEfGh==\n-----END RSA PRIVATE KEY-----", "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"},
	{"quoted passphrase with spaces", `password: "correct horse battery staple"`, "battery staple"},
	{"quoted passphrase in JSON", `{"db_password": "hunter2 and more words"}`, "and more words"},
	{"HTTP basic credentials", `curl -H "Authorization: Basic dXNlcm5hbWU6U3VwZXJTZWNyZXRQYXNzMTIz" https://api.example.com`, "dXNlcm5hbWU6U3VwZXJTZWNyZXRQYXNz"},
	{"npm token", "//registry.npmjs.org/:_authToken=npm_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8", "a1B2c3D4e5F6g7H8i9J0"},
	{"GitLab token", "git clone https://oauth2:glpat-Xy9zAb8Cd7Ef6Gh5Ij4K@gitlab.com/g/r.git && echo glpat-Xy9zAb8Cd7Ef6Gh5Ij4K", "Xy9zAb8Cd7Ef6Gh5Ij4K"},
	{"Hugging Face token", "HF_TOKEN=hf_AbCdEfGhIjKlMnOpQrStUvWxYz012345678", "AbCdEfGhIjKlMnOpQrStUvWxYz"},
	{"Stripe live key", "stripe.api_key = 'sk_live_51Hq8K2LmN4oP6qR8sT0uV2wX'", "51Hq8K2LmN4oP6qR8sT0uV2wX"},
	{"Slack webhook", "curl -X POST https://hooks.slack.com/services/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", "z9Y8x7W6v5U4t3S2r1Q0p9O8"},
	{"Authorization: Token", "curl -H 'Authorization: Token 9f2c1e7a4b8d6e3f0a1b2c3d4e5f6a7b' https://api.example.com", "9f2c1e7a4b8d6e3f0a1b2c3d"},
	{"X-API-Key header", "curl -H \"X-API-Key: Zt7Qw2Er9Ty4Ui1Op6As3Df8\" https://api.example.com", "Zt7Qw2Er9Ty4Ui1Op6As3Df8"},
	{"double-escaped (JSON in a JSON string)", `{\"k\":\"\\u0041KIAMNBVCXZLKJHGFDSA\"}`, "MNBVCXZLKJHGFDSA"},
	{"mysql -p", "mysql -h db.internal -u root -pXq7Lm2Vz9Rt4 shop < dump.sql", "Xq7Lm2Vz9Rt4"},
	{"mysqldump -p", "mysqldump -uadmin -pW3ll0Kn0wn --all-databases > all.sql", "W3ll0Kn0wn"},
	{"mysql --password=", "mysql --user=app --password=Zk8Qp3Nm5Bv7 -e 'select 1'", "Zk8Qp3Nm5Bv7"},
	{"mysql -p quoted", `mysql -u root -p'Tr0ub4dor&3' app`, "Tr0ub4dor"},
	{"curl -u", "curl -u deploy:Hx9Kq2Wm7Lp4 https://ci.example.com/api/builds", "Hx9Kq2Wm7Lp4"},
	{"curl --user", "curl -s --user admin:Pq4Rt6Yu8Io0 -X POST https://jenkins.internal/job/x/build", "Pq4Rt6Yu8Io0"},
	{"curl -u quoted", `curl -u 'bob:open sesame 42' https://example.com`, "sesame 42"},
	{"--password 'a b'", "docker login registry.example.com --username bob --password 'correct horse battery'", "horse battery"},
	{"--password \"a b\"", `psql-wrapper --password "my dog has fleas" --host db`, "dog has fleas"},
	{"--password bare", "vault login -method=userpass username=bob --password Wm3Xq9Lk2Zp", "Wm3Xq9Lk2Zp"},
	{"S3 presigned URL", "curl 'https://bkt.s3.amazonaws.com/o.tar?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAZZZZZZZZEXAMPLE1%2F20261205%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261205T101010Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=3c5e1a9b0f2d4c6e8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f'", "3c5e1a9b0f2d4c6e8a0b"},
	{"S3 presigned URL credential", "https://bkt.s3.amazonaws.com/o?X-Amz-Credential=ASIAYYYYYYYY7EXAMPL2%2F20261205%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=ab", "7EXAMPL2%2F20261205"},
	{"S3 presigned URL security token", "https://bkt.s3.amazonaws.com/o?X-Amz-Security-Token=IQoJb3JpZ2luX2VjEJr%2F%2F%2F%2F%2F%2F%2F%2F%2FwEaCXVzLWVhc3QtMSJHMEUCIQD&X-Amz-Date=20261205T101010Z", "IQoJb3JpZ2luX2VjEJr"},
	{"GCS signed URL", "https://storage.googleapis.com/b/o?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=svc%40proj.iam.gserviceaccount.com%2F20261205%2Fauto%2Fstorage%2Fgoog4_request&X-Goog-Date=20261205T101010Z&X-Goog-Expires=900&X-Goog-SignedHeaders=host&X-Goog-Signature=8f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a6978", "8f1e2d3c4b5a69788796"},
	{"Azure SAS", "https://acct.blob.core.windows.net/c/b.bin?sv=2022-11-02&ss=b&srt=o&sp=r&se=2026-12-06T00:00:00Z&spr=https&sig=Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZg%3D%3D", "Zm9vYmFyYmF6cXV4MTIz"},
}

// ordinary is text the rules must leave alone.
var ordinary = []string{
	"The quick brown fox jumps over the lazy dog; the token count was 42 and the password prompt appeared.",
	"session 4d5611e5-241a-462a-8d15-5122611a9569 and request req_011CX3v7nPVeqGfiq6rSUgmm",
	"commit 0754e85a1b2c3d4e5f60718293a4b5c6d7e8f901 sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
	"aGVsbG8gd29ybGQsIHRoaXMgaXMgb3JkaW5hcnkgZGF0YSBlbmNvZGVkIGluIGJhc2U2NA==",
	"eyJ0eXBlIjoibWVzc2FnZSIsInJvbGUiOiJ1c2VyIn0=", // base64 of a JSON object: no signature, one part
	"see https://example.com/docs/a:b and https://registry.npmjs.org:443/@types/node and http://localhost:8080/@vite/client",
	"ssh://git@github.com:22/org/repo.git git@github.com:org/repo.git mailto:bob@example.com",
	"func (r *Redactor) String(s string) string { return strings.TrimSpace(s) }",
	"ASIA_PACIFIC_REGION AKIA task-1234567890abcdefghijklmnop ASIAPACIFICSOUTHEAST1X",
	"ANSI \x1b[31mred\x1b[0m and escaped \\u001b[1mbold\\u001b[0m text, a path C:\\/tmp and a regex /a\\/b/",
	"-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----",
	"-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----",
	"a basic understanding of internationalization; Basic authentication is configured in the Authorization section",
	`{"input_tokens": 1234, "password_hint": ""} and "the token: 42 words" stays`,
	"https://registry.npmjs.org/@scope/pkg@1.2.3 and https://cdn.example.com/npm/@babel/core@7.0.0/index.js",
	// Code that assigns to a name with a secret word (from the fixtures).
	"\t\t} else {\n\t\t\ttokenUsage = usage\n\t\t}",
	"\t\tTokenUsage:                  tokenUsage,",
	"\t\tstate.TokenUsage = accumulateTokenUsage(state.TokenUsage, incoming)",
	"\t\t\tSubagentTokens:      incoming.SubagentTokens,",
	"          temperature: 0.0,\n          api_key: anthropic_api_key()",
	"const csrfToken = document.querySelector(\"meta[name='csrf-token']\").getAttribute(\"content\")",
	"  params: { _csrf_token: csrfToken },",
	`{"has_api_key_header": true, "password": null, "token": false}`,
	`{"has_api_key_header":true,"password":null,"token":false}`,
	"mysql -u root -p shop; mysqldump --single-transaction shop; curl -u bob https://example.com; sort -u -p",
	"use the --password flag, or --password-stdin < pw.txt, or --password \"$DB_PASS\"",
	"https://example.com/x?X-Amz-Date=20261205T101010Z&design=ok and a signature: sig=ok",
}

// TestRedactorWidenedRules: each secret is masked as text, in a raw
// transcript line (JSON-escaped, as the builders get it) and in what a JSON
// decoder makes of that line; ordinary text is not masked.
func TestRedactorWidenedRules(t *testing.T) {
	r, err := New(&config.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range redactCases {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.String(tt.in); strings.Contains(got, tt.tell) || !strings.Contains(got, "REDACTED") {
				t.Errorf("String(%q) = %q", tt.in, got)
			}
			content, _ := json.Marshal("here it is: " + tt.in + " — done")
			line := []byte(`{"type":"user","message":{"role":"user","content":` + string(content) + `},"uuid":"4d5611e5-241a-462a-8d15-5122611a9569"}`)
			// And with the tell's first byte \u-escaped in the line.
			escaped := []byte(strings.ReplaceAll(string(line), tt.tell, fmt.Sprintf(`\u%04x`, tt.tell[0])+tt.tell[1:]))
			if bytes.Equal(escaped, line) {
				t.Fatalf("the tell is not in the line as is: %s", line)
			}
			for _, in := range [][]byte{line, escaped} {
				checkLine(t, r, in, tt.name, tt.tell)
			}
		})
	}
	for _, clean := range ordinary {
		if got := r.String(clean); got != clean {
			t.Errorf("String(%q) = %q: changed ordinary text", clean, got)
		}
		b, _ := json.Marshal(map[string]string{"text": clean})
		if got := r.Line(b); !bytes.Equal(got, b) {
			t.Errorf("Line(%s) = %s: changed ordinary text", b, got)
		}
	}
}

// checkLine runs a transcript line through Line and fails when tell is in
// the result, in its decoded content or in that content decoded again.
func checkLine(t *testing.T, r *Redactor, line []byte, name, tell string) {
	t.Helper()
	out := r.Line(line)
	if !json.Valid(out) {
		t.Fatalf("Line broke the JSON: %s", out)
	}
	var v struct {
		Message struct{ Content string } `json:"message"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{string(out), v.Message.Content, unescapeAll(v.Message.Content)} {
		if strings.Contains(s, tell) {
			t.Errorf("Line(%s): %q survived in %s", line, tell, s)
		}
	}
	if !strings.Contains(v.Message.Content, "here it is: ") || !strings.HasSuffix(v.Message.Content, " — done") && !strings.Contains(name, "no END") {
		t.Errorf("Line masked the text around the secret: %q", v.Message.Content)
	}
}

// unescapeAll decodes s as the body of a JSON string as long as it decodes
// (JSON inside a JSON string), as a reader of the span might.
func unescapeAll(s string) string {
	for range 3 {
		var d string
		if json.Unmarshal([]byte(`"`+s+`"`), &d) != nil {
			return s
		}
		s = d
	}
	return s
}

func TestUnescapeASCII(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		ok       bool
	}{
		{`no escapes`, `no escapes`, false},
		{`\u0041KIA \/x`, `AKIA /x`, true},
		{`\\u0041 \\\/`, `A /`, true},
		{`keep \u0022 \u005c \u001b \u00e9 \n \\n \u00`, `keep \u0022 \u005c \u001b \u00e9 \n \\n \u00`, false},
		{`end \`, `end \`, false},
	} {
		got, ok := unescapeASCII(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("unescapeASCII(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// naiveScan is what scan must find: every anchor tested at every offset.
func naiveScan(r *Redactor, s string) scanned {
	var sc scanned
	for i := 0; i < len(s); i++ {
		for _, a := range r.anchors[s[i]] {
			if !hasPrefix(s[i:], a.lit, a.fold) {
				continue
			}
			h := hit{i, i + len(a.lit)}
			switch a.rule {
			case nameAnchor:
				sc.names = append(sc.names, h)
			case escapeAnchor:
				sc.escaped = true
			default:
				if sc.rules == nil {
					sc.rules = make([][]hit, len(r.rules))
				}
				sc.rules[a.rule] = append(sc.rules[a.rule], h)
			}
		}
	}
	return sc
}

// FuzzScanFindsEveryAnchor checks the fast scan (pairs at even offsets, a
// word compare) against a test of every anchor at every offset: every
// literal at an odd or even offset, at the end, in either case.
func FuzzScanFindsEveryAnchor(f *testing.F) {
	r, _ := New(&config.Config{})
	f.Add("x", uint8(0), uint8(0), false)
	for i, a := range r.anchors {
		for _, a := range a {
			f.Add(a.lit, uint8(i), uint8(len(a.lit)), true)
		}
	}
	for _, tt := range redactCases {
		f.Add(tt.in, uint8(1), uint8(3), false)
	}
	f.Fuzz(func(t *testing.T, s string, pad, cut uint8, upper bool) {
		if upper {
			s = strings.ToUpper(s)
		}
		for _, v := range []string{s, strings.Repeat("y", int(pad%9)) + s, s + `\/PASSWORD:` + s, s[:len(s)-min(len(s), int(cut%4))]} {
			got, want := r.scan(v), naiveScan(r, v)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("scan(%q) = %v, want %v", v, got, want)
			}
		}
	})
}
