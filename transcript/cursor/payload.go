package cursor

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// payload is a Cursor hook payload decoded leniently: every field is read on
// its own, so one field of an unexpected type (a newer Cursor, a
// Claude-imported hook) never loses the whole event.
type payload map[string]json.RawMessage

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

func parsePayload(b []byte) (payload, bool) {
	b = bytes.TrimPrefix(bytes.TrimSpace(b), utf8BOM)
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return nil, false
	}
	return payload(m), true
}

// str returns a string field ("" when absent, null or not a string).
func (p payload) str(k string) string {
	raw, ok := p[k]
	if !ok || len(raw) == 0 || raw[0] != '"' {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// num returns a number field; a numeric string is accepted too.
func (p payload) num(k string) (float64, bool) {
	raw, ok := p[k]
	if !ok || len(raw) == 0 {
		return 0, false
	}
	var f float64
	if json.Unmarshal(raw, &f) == nil {
		return f, true
	}
	if s := p.str(k); s != "" {
		if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f, true
		}
	}
	return 0, false
}

// boolean returns a boolean field and whether it was present as one.
func (p payload) boolean(k string) (bool, bool) {
	raw, ok := p[k]
	if !ok {
		return false, false
	}
	var v bool
	if json.Unmarshal(raw, &v) != nil {
		return false, false
	}
	return v, true
}

// raw returns a field's JSON unless it is absent or null.
func (p payload) raw(k string) json.RawMessage {
	raw, ok := p[k]
	if !ok || len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	return raw
}

// strs returns an array-of-strings field (non-string elements skipped).
func (p payload) strs(k string) []string {
	raw := p.raw(k)
	if len(raw) == 0 || raw[0] != '[' {
		return nil
	}
	var arr []json.RawMessage
	if json.Unmarshal(raw, &arr) != nil {
		return nil
	}
	var out []string
	for _, el := range arr {
		var s string
		if json.Unmarshal(el, &s) == nil && s != "" {
			out = append(out, s)
		}
	}
	return out
}

// modelParams renders model_params ([{id, value}]) as "id=value" strings.
func (p payload) modelParams() []string {
	raw := p.raw("model_params")
	if len(raw) == 0 || raw[0] != '[' {
		return nil
	}
	var arr []struct {
		ID    any `json:"id"`
		Value any `json:"value"`
	}
	if json.Unmarshal(raw, &arr) != nil {
		return nil
	}
	var out []string
	for _, e := range arr {
		id := scalarString(e.ID)
		if id == "" {
			continue
		}
		out = append(out, id+"="+scalarString(e.Value))
	}
	return out
}

// attachments returns the file paths of beforeSubmitPrompt attachments.
func (p payload) attachments() []string {
	raw := p.raw("attachments")
	if len(raw) == 0 || raw[0] != '[' {
		return nil
	}
	var arr []struct {
		Type     any `json:"type"`
		FilePath any `json:"file_path"`
	}
	if json.Unmarshal(raw, &arr) != nil {
		return nil
	}
	var out []string
	for _, a := range arr {
		fp := scalarString(a.FilePath)
		if fp == "" {
			continue
		}
		if t := scalarString(a.Type); t != "" && t != "file" {
			fp = t + ":" + fp
		}
		out = append(out, fp)
	}
	return out
}

func scalarString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

// jsonArg returns a tool input as JSON: an object as it is, a string holding
// JSON (MCP tool_input) decoded once, other strings quoted.
func jsonArg(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return nil
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil
		}
		st := strings.TrimSpace(s)
		if st == "" {
			return nil
		}
		if json.Valid([]byte(st)) && (st[0] == '{' || st[0] == '[') {
			return compactJSON([]byte(st))
		}
		return raw
	}
	return compactJSON(raw)
}

// compactJSON returns b compacted, with invalid UTF-8 replaced (span
// attributes must be valid UTF-8, and the state must survive JSON).
func compactJSON(b []byte) json.RawMessage {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return nil
	}
	return json.RawMessage(bytes.ToValidUTF8(buf.Bytes(), []byte("\uFFFD")))
}

// textOf returns a field that should be text: a string as is, any other
// JSON value as its compact encoding.
func (p payload) textOf(k string) string {
	if s := p.str(k); s != "" {
		return s
	}
	raw := p.raw(k)
	if len(raw) == 0 || raw[0] == '"' {
		return ""
	}
	return string(compactJSON(raw))
}

// fingerprintKeys are envelope fields that differ between the copies Cursor
// sends to its own hooks and to hooks imported from Claude Code settings
// (which reportedly carry cwd:""), and so are left out of the fingerprint.
var fingerprintKeys = map[string]bool{
	"cwd": true, "transcript_path": true, "user_email": true, "hook_event_name": true,
	"workspace_roots": true,
}

// fingerprint identifies an event's content independent of the envelope, to
// count an event once when Cursor fires both a native and an imported hook.
func (p payload) fingerprint(event string) string {
	m := make(map[string]json.RawMessage, len(p))
	for k, v := range p {
		if !fingerprintKeys[k] {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return ""
	}
	h := sha256.New()
	h.Write([]byte(event))
	h.Write([]byte{0})
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// claudeEventNames maps Claude Code event names (should an imported hook
// ever get them) to Cursor's.
var claudeEventNames = map[string]string{
	"UserPromptSubmit": "beforeSubmitPrompt",
	"SubagentStart":    "subagentStart",
	"SubagentStop":     "subagentStop",
}

// normalizeEvent returns Cursor's camelCase event name.
func normalizeEvent(name string) string {
	name = strings.TrimSpace(name)
	if n, ok := claudeEventNames[name]; ok {
		return n
	}
	if name != "" && name[0] >= 'A' && name[0] <= 'Z' {
		return string(name[0]+('a'-'A')) + name[1:]
	}
	return name
}
