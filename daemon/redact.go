package daemon

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"go.opentelemetry.io/otel/attribute"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/installer/config"
)

// secretRule is one built-in secret shape. literal is a cheap substring test
// run before the regexp (most text holds no secret at all).
type secretRule struct {
	name    string
	literal []string // any of these must occur (case-sensitive) for re to run
	fold    bool     // test literals case-insensitively
	re      *regexp.Regexp
	repl    string
}

var builtinRules = []secretRule{
	{name: "private-key", literal: []string{"PRIVATE KEY-----"},
		re: regexp.MustCompile(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[^"]*?-----END [A-Z0-9 ]*PRIVATE KEY-----`), repl: "[REDACTED:private-key]"},
	{name: "anthropic", literal: []string{"sk-ant-"},
		re: regexp.MustCompile(`sk-ant-[A-Za-z0-9_\-]{16,}`), repl: "[REDACTED:anthropic-key]"},
	{name: "openai", literal: []string{"sk-"},
		re: regexp.MustCompile(`\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}`), repl: "[REDACTED:openai-key]"},
	{name: "aws", literal: []string{"AKIA", "ASIA"},
		re: regexp.MustCompile(`\b(?:AKIA|ASIA)[0-9A-Z]{16}\b`), repl: "[REDACTED:aws-key]"},
	{name: "github", literal: []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"},
		re: regexp.MustCompile(`\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})`), repl: "[REDACTED:github-token]"},
	{name: "slack", literal: []string{"xox"},
		re: regexp.MustCompile(`\bxox[abposr]-[A-Za-z0-9\-]{10,}`), repl: "[REDACTED:slack-token]"},
	{name: "google", literal: []string{"AIza"},
		re: regexp.MustCompile(`\bAIza[0-9A-Za-z_\-]{35}`), repl: "[REDACTED:google-key]"},
	{name: "bearer", literal: []string{"earer "}, fold: true,
		re: regexp.MustCompile(`(?i)\bbearer\s+[A-Za-z0-9._~+/\-]{16,}=*`), repl: "Bearer [REDACTED]"},
	{name: "url-credentials", literal: []string{"://"},
		re: regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.\-]*://)[^/\s:@"'\\]+:[^/\s@"'\\]+@`), repl: "${1}[REDACTED]@"},
	{name: "secret-assignment", literal: []string{"secret", "password", "passwd", "token", "api_key", "apikey", "access_key", "private_key"}, fold: true,
		re: regexp.MustCompile(`(?i)\b([A-Z0-9_]*(?:SECRET|PASSWORD|PASSWD|TOKEN|API_KEY|APIKEY|ACCESS_KEY|PRIVATE_KEY)[A-Z0-9_]*)(\\?["']?\s*[=:]\s*\\?["']?)([^\s"'\\,;{}\[\]]*[A-Za-z_\-/+][^\s"'\\,;{}\[\]]{3,})`), repl: "${1}${2}[REDACTED]"},
}

// contentKeys are the span attributes that carry prompts, responses and tool
// input/output: metadata mode drops them.
var contentKeys = map[attribute.Key]bool{
	"gen_ai.input.messages":      true,
	"gen_ai.output.messages":     true,
	"gen_ai.system_instructions": true,
	"gen_ai.tool.definitions":    true,
	"gen_ai.tool.call.arguments": true,
	"gen_ai.tool.call.result":    true,
}

// contentFields are hook payload fields holding content (metadata mode).
var contentFields = []string{"prompt", "tool_input", "tool_response", "tool_output", "last_assistant_message",
	"text", "output", "result_json", "edits", "custom_instructions", "message", "error", "error_message",
	"summary", "task", "command", "compact_summary"}

// Redactor masks secrets, applies the content mode and caps attribute size.
// It runs before anything is written to the spool.
type Redactor struct {
	rules    []secretRule
	metadata bool
	maxAttr  int
}

// NewRedactor builds the redactor from the config (extra patterns from
// `redact`, `content`, `max_attribute_bytes`).
func NewRedactor(c *config.Config) (*Redactor, error) {
	r := &Redactor{rules: append([]secretRule(nil), builtinRules...), metadata: c.Content == "metadata", maxAttr: c.MaxAttributeBytes}
	for _, p := range c.Redact {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("redact pattern %q: %w", p, err)
		}
		r.rules = append(r.rules, secretRule{name: "custom", re: re, repl: "[REDACTED]"})
	}
	if r.maxAttr <= 0 {
		r.maxAttr = config.DefaultMaxAttributeBytes
	}
	return r, nil
}

// String masks every secret in s.
func (r *Redactor) String(s string) string {
	var lower string
	for _, rule := range r.rules {
		if len(rule.literal) > 0 {
			hit := false
			for _, l := range rule.literal {
				if rule.fold {
					if lower == "" {
						lower = strings.ToLower(s)
					}
					if strings.Contains(lower, l) {
						hit = true
						break
					}
				} else if strings.Contains(s, l) {
					hit = true
					break
				}
			}
			if !hit {
				continue
			}
		}
		if n := rule.re.ReplaceAllString(s, rule.repl); n != s {
			s = n
			lower = ""
		}
	}
	return s
}

// RedactJSON masks secrets inside a JSON document (patterns never match
// quotes or backslashes, so the document stays valid) and, in metadata mode,
// replaces content fields.
func (r *Redactor) RedactJSON(b []byte) []byte {
	out := []byte(r.String(string(b)))
	if !json.Valid(out) {
		out = b // a rule misbehaved: better keep the structure; fields are redacted again in spans
	}
	if r.metadata {
		var m map[string]json.RawMessage
		if json.Unmarshal(out, &m) == nil {
			for _, f := range contentFields {
				if _, ok := m[f]; ok {
					m[f] = json.RawMessage(`"[content omitted]"`)
				}
			}
			if nb, err := json.Marshal(m); err == nil {
				out = nb
			}
		}
	}
	return out
}

// Span redacts a span in place: content mode, secrets, size cap.
func (r *Redactor) Span(s *genai.Span) {
	s.Attrs = r.attrs(s.Attrs)
	for i := range s.Events {
		s.Events[i].Attrs = r.attrs(s.Events[i].Attrs)
	}
	s.StatusMessage = r.capString(r.String(s.StatusMessage))
}

func (r *Redactor) attrs(in []attribute.KeyValue) []attribute.KeyValue {
	out := in[:0]
	for _, kv := range in {
		if r.metadata && contentKeys[kv.Key] {
			continue
		}
		if kv.Value.Type() == attribute.STRING {
			kv = kv.Key.String(r.capString(r.String(kv.Value.AsString())))
		}
		out = append(out, kv)
	}
	return out
}

func (r *Redactor) capString(s string) string {
	if len(s) <= r.maxAttr {
		return s
	}
	cut := r.maxAttr
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("…[truncated %d bytes]", len(s)-cut)
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
