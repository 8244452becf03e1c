package genai

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// The GenAI attributes whose value is a JSON document (semconv v1.41 keys).
const (
	InputMessagesKey      = "gen_ai.input.messages"
	OutputMessagesKey     = "gen_ai.output.messages"
	SystemInstructionsKey = "gen_ai.system_instructions"
	ToolDefinitionsKey    = "gen_ai.tool.definitions"
)

// jsonShape is the structure of a GenAI JSON attribute.
type jsonShape int

const (
	shapeMessages jsonShape = iota // [{role, parts:[part…], …}]
	shapeParts                     // [part…]
	shapeTools                     // [{type, name, description, parameters}…]
	shapeOther                     // any other JSON
)

func shapeOf(key string) (jsonShape, bool) {
	switch key {
	case InputMessagesKey, OutputMessagesKey:
		return shapeMessages, true
	case SystemInstructionsKey:
		return shapeParts, true
	case ToolDefinitionsKey:
		return shapeTools, true
	}
	return shapeOther, false
}

// IsJSONAttr reports whether the attribute key holds a GenAI JSON document
// that CapJSON knows how to shorten.
func IsJSONAttr(key string) bool {
	_, ok := shapeOf(key)
	return ok
}

// minKeep is the length (bytes) to which long strings are shortened before
// whole parts or tool definitions are dropped instead.
const minKeep = 64

// maxDepth bounds the nesting CapJSON decodes (encoding/json's own limit is
// 10000); a deeper document is treated as text.
const maxDepth = 1000

// CapJSON returns the value s of the GenAI JSON attribute key within max
// bytes, without ever cutting the serialized JSON: a value that fits is
// returned as it is; otherwise long strings (text and reasoning content,
// the strings inside tool call arguments and responses, tool descriptions)
// are shortened, all to the same length, with a "…[truncated N bytes]"
// marker; when that is not enough even at a short length, tool parameters
// are dropped, then trailing parts (or tool definitions), which a final
// marker counts. A document that matches its schema still does afterwards.
// The result is always valid JSON, and at most max bytes when max ≥ 2 (the
// last resort is an empty list). A value that is not valid JSON becomes a
// JSON string holding its (shortened) text.
func CapJSON(key, s string, max int) string {
	shape, _ := shapeOf(key)
	valid := json.Valid([]byte(s))
	if valid && len(s) <= max {
		return s
	}
	var v any = s // not JSON: keep the text, as a JSON string
	if valid {
		if d, err := decodeOrdered(s); err == nil {
			v = d
		}
	}
	var levels []func(l int) any
	var maxLen int
	switch x := v.(type) {
	case string:
		maxLen = len(x)
		levels = append(levels, func(l int) any { return cut(x, l) })
	case []any:
		levels, maxLen = capLevels(shape, x)
	default:
		levels = append(levels, func(l int) any { return cutDeep(v, l) })
		maxLen = longest(v)
	}
	return fit(levels, maxLen, max)
}

// fit finds the first level whose document fits max bytes with strings cut
// to minKeep, then the longest cut that still fits at that level.
func fit(levels []func(l int) any, maxLen, max int) string {
	var buf bytes.Buffer
	size := func(lv, l int) int {
		buf.Reset()
		encode(&buf, levels[lv](l))
		return buf.Len()
	}
	// Levels are ordered from most to least kept, so sizes mostly shrink
	// level by level: search, then step on past any level that does not fit.
	lo, hi := 0, len(levels)
	for lo < hi {
		m := (lo + hi) / 2
		if size(m, minKeep) <= max {
			hi = m
		} else {
			lo = m + 1
		}
	}
	for lo < len(levels) && size(lo, minKeep) > max {
		lo++
	}
	if lo == len(levels) {
		return "[]"
	}
	// Longest cut l in [minKeep, maxLen] that fits (the size grows with l).
	a, b := minKeep, min(maxLen, max)
	for a < b {
		m := a + (b-a+1)/2
		if size(lo, m) <= max {
			a = m
		} else {
			b = m - 1
		}
	}
	buf.Reset()
	encode(&buf, levels[lo](a))
	return buf.String()
}

// capLevels lists the ways to shorten a GenAI list, from most to least kept.
// A list whose elements do not have the expected shape is shortened as
// plain JSON (strings cut, trailing elements dropped, no marker).
func capLevels(shape jsonShape, list []any) ([]func(l int) any, int) {
	switch shape {
	case shapeMessages:
		if ps, ok := messageParts(list); ok {
			return partLevels(list, ps), maxPartLen(ps)
		}
	case shapeParts:
		if objs, ok := objects(list); ok {
			ps := make([]partRef, len(objs))
			for i, o := range objs {
				ps[i] = partRef{msg: -1, part: o}
			}
			return partLevels(nil, ps), maxPartLen(ps)
		}
	case shapeTools:
		if objs, ok := objects(list); ok {
			return toolLevels(objs)
		}
	}
	levels := make([]func(l int) any, 0, len(list)+1)
	for k := 0; k <= len(list); k++ {
		levels = append(levels, func(l int) any { return cutDeep(list[:len(list)-k], l) })
	}
	return levels, longest(list)
}

// partRef is one part of a message list, in document order.
type partRef struct {
	msg  int // index of its message; -1 when the list is the parts
	part *object
}

// messageParts flattens the parts of a message list; ok is false when an
// element is not a message with a parts list of objects.
func messageParts(list []any) ([]partRef, bool) {
	var ps []partRef
	for i, m := range list {
		o, ok := m.(*object)
		if !ok {
			return nil, false
		}
		parts, ok := o.get("parts").([]any)
		if !ok {
			return nil, false
		}
		objs, ok := objects(parts)
		if !ok {
			return nil, false
		}
		for _, p := range objs {
			ps = append(ps, partRef{msg: i, part: p})
		}
	}
	return ps, true
}

func objects(list []any) ([]*object, bool) {
	out := make([]*object, len(list))
	for i, e := range list {
		o, ok := e.(*object)
		if !ok {
			return nil, false
		}
		out[i] = o
	}
	return out, true
}

// partLevels: level k keeps all but the last k parts (a marker part counts
// them); a message left without parts goes, except the first.
func partLevels(msgs []any, ps []partRef) []func(l int) any {
	levels := make([]func(l int) any, 0, len(ps)+1)
	for k := 0; k <= len(ps); k++ {
		levels = append(levels, func(l int) any {
			kept := ps[:len(ps)-k]
			var marker *object
			if k > 0 {
				marker = &object{keys: []string{"type", "content"}, vals: []any{"text", fmt.Sprintf("[%d more %s omitted: size cap]", k, plural(k, "part"))}}
			}
			if msgs == nil {
				out := make([]any, 0, len(kept)+1)
				for _, p := range kept {
					out = append(out, cutPart(p.part, l))
				}
				if marker != nil {
					out = append(out, marker)
				}
				return out
			}
			// Messages after the one holding the last kept part lost all
			// their parts: they go, and the marker ends that message.
			parts := make([][]any, len(msgs))
			last := len(msgs) - 1
			if k > 0 {
				last = 0
				if len(kept) > 0 {
					last = kept[len(kept)-1].msg
				}
			}
			for _, p := range kept {
				parts[p.msg] = append(parts[p.msg], cutPart(p.part, l))
			}
			if marker != nil {
				parts[last] = append(parts[last], marker)
			}
			out := make([]any, 0, last+1)
			for i, m := range msgs[:last+1] {
				if parts[i] == nil {
					parts[i] = []any{}
				}
				out = append(out, m.(*object).with("parts", parts[i]))
			}
			return out
		})
	}
	return levels
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// cutPart shortens a part's content and the strings of its arguments and
// response; a blob too long to keep becomes a text part saying what it was.
func cutPart(p *object, l int) *object {
	c, isStr := p.get("content").(string)
	if p.get("type") == "blob" && isStr && len(c) > l {
		mime, _ := p.get("mime_type").(string)
		if mime == "" {
			mime = "blob"
		}
		return &object{keys: []string{"type", "content"},
			vals: []any{"text", fmt.Sprintf("[%s, %d bytes base64, omitted: size cap]", mime, len(c))}}
	}
	out := p
	if isStr {
		out = out.with("content", cut(c, l))
	}
	for _, k := range []string{"arguments", "response"} {
		if v, ok := out.lookup(k); ok {
			out = out.with(k, cutDeep(v, l))
		}
	}
	return out
}

func maxPartLen(ps []partRef) int {
	n := 0
	for _, p := range ps {
		if c, ok := p.part.get("content").(string); ok {
			n = max(n, len(c))
		}
		for _, k := range []string{"arguments", "response"} {
			if v, ok := p.part.lookup(k); ok {
				n = max(n, longest(v))
			}
		}
	}
	return n
}

// toolLevels: descriptions shortened; then without parameters; then
// without the last k definitions (a marker definition counts them).
func toolLevels(defs []*object) ([]func(l int) any, int) {
	maxLen := 0
	defs = append([]*object(nil), defs...)
	for i, d := range defs {
		if s, ok := d.get("description").(string); ok {
			maxLen = max(maxLen, len(s))
		}
		if p, ok := d.lookup("parameters"); ok { // never shortened: encode it once
			var b bytes.Buffer
			encode(&b, p)
			defs[i] = d.with("parameters", raw(b.Bytes()))
		}
	}
	build := func(params bool, k, l int) any {
		out := make([]any, 0, len(defs)-k+1)
		for _, d := range defs[:len(defs)-k] {
			if s, ok := d.get("description").(string); ok {
				d = d.with("description", cut(s, l))
			}
			if !params {
				d = d.without("parameters")
			}
			out = append(out, d)
		}
		if k > 0 {
			out = append(out, &object{keys: []string{"type", "name"},
				vals: []any{"omitted", fmt.Sprintf("[%d more tool %s omitted: size cap]", k, plural(k, "definition"))}})
		}
		return out
	}
	levels := []func(l int) any{func(l int) any { return build(true, 0, l) }}
	for k := 0; k <= len(defs); k++ {
		levels = append(levels, func(l int) any { return build(false, k, l) })
	}
	return levels, maxLen
}

// truncMarker is what replaces the end of a shortened string.
func truncMarker(dropped int) string { return fmt.Sprintf("…[truncated %d bytes]", dropped) }

// cut shortens s to about l bytes (at a rune boundary) plus the marker,
// unless that would not make it shorter.
func cut(s string, l int) string {
	if len(s) <= l {
		return s
	}
	c := l
	for c > 0 && s[c]&0xC0 == 0x80 {
		c--
	}
	m := truncMarker(len(s) - c)
	if c+len(m) >= len(s) {
		return s
	}
	return s[:c] + m
}

// cutDeep cuts every string value (not object keys) inside v.
func cutDeep(v any, l int) any {
	switch x := v.(type) {
	case string:
		return cut(x, l)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = cutDeep(e, l)
		}
		return out
	case *object:
		o := &object{keys: x.keys, vals: make([]any, len(x.vals))}
		for i, e := range x.vals {
			o.vals[i] = cutDeep(e, l)
		}
		return o
	}
	return v
}

// longest is the length of the longest string value inside v.
func longest(v any) int {
	switch x := v.(type) {
	case string:
		return len(x)
	case []any:
		n := 0
		for _, e := range x {
			n = max(n, longest(e))
		}
		return n
	case *object:
		n := 0
		for _, e := range x.vals {
			n = max(n, longest(e))
		}
		return n
	}
	return 0
}

// object is a JSON object that keeps its keys' order (so an attribute
// shortened keeps the layout the builder wrote).
type object struct {
	keys []string
	vals []any
}

func (o *object) lookup(k string) (any, bool) {
	for i, key := range o.keys {
		if key == k {
			return o.vals[i], true
		}
	}
	return nil, false
}

func (o *object) get(k string) any {
	v, _ := o.lookup(k)
	return v
}

// with returns a copy of o with k set to v (in place of its old value).
func (o *object) with(k string, v any) *object {
	c := &object{keys: o.keys, vals: append([]any(nil), o.vals...)}
	for i, key := range c.keys {
		if key == k {
			c.vals[i] = v
			return c
		}
	}
	c.keys = append(append([]string(nil), o.keys...), k)
	c.vals = append(c.vals, v)
	return c
}

// without returns o without key k.
func (o *object) without(k string) *object {
	c := &object{}
	for i, key := range o.keys {
		if key != k {
			c.keys = append(c.keys, key)
			c.vals = append(c.vals, o.vals[i])
		}
	}
	return c
}

var errDepth = errors.New("json nested too deep")

// decodeOrdered decodes one JSON document: objects as *object, numbers as
// json.Number.
func decodeOrdered(s string) (any, error) {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	v, err := decodeValue(d, 0)
	if err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("json: data after the document")
	}
	return v, nil
}

func decodeValue(d *json.Decoder, depth int) (any, error) {
	if depth > maxDepth {
		return nil, errDepth
	}
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '[':
			arr := []any{}
			for d.More() {
				v, err := decodeValue(d, depth+1)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			_, err := d.Token() // ]
			return arr, err
		case '{':
			o := &object{}
			for d.More() {
				kt, err := d.Token()
				if err != nil {
					return nil, err
				}
				k, ok := kt.(string)
				if !ok {
					return nil, errors.New("json: object key is not a string")
				}
				v, err := decodeValue(d, depth+1)
				if err != nil {
					return nil, err
				}
				o.keys = append(o.keys, k)
				o.vals = append(o.vals, v)
			}
			_, err := d.Token() // }
			return o, err
		}
		return nil, fmt.Errorf("json: unexpected %v", t)
	default:
		return t, nil // string, json.Number, bool, nil
	}
}

// raw is a value already encoded (a subtree never shortened).
type raw []byte

// encode writes v compactly, strings escaped as encoding/json does (so an
// untouched string keeps the bytes json.Marshal gave it).
func encode(b *bytes.Buffer, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if x {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case json.Number:
		b.WriteString(string(x))
	case string:
		writeString(b, x)
	case raw:
		b.Write(x)
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			encode(b, e)
		}
		b.WriteByte(']')
	case *object:
		b.WriteByte('{')
		for i, k := range x.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			encode(b, k)
			b.WriteByte(':')
			encode(b, x.vals[i])
		}
		b.WriteByte('}')
	}
}

const hexDigits = "0123456789abcdef"

// writeString writes s as a JSON string, escaped byte for byte as
// encoding/json does (HTML characters, U+2028/U+2029 and invalid UTF-8
// included).
func writeString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b.WriteString(s[start:i])
			switch c {
			case '"', '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case '\b':
				b.WriteString(`\b`)
			case '\f':
				b.WriteString(`\f`)
			case '\n':
				b.WriteString(`\n`)
			case '\r':
				b.WriteString(`\r`)
			case '\t':
				b.WriteString(`\t`)
			default:
				b.WriteString(`\u00`)
				b.WriteByte(hexDigits[c>>4])
				b.WriteByte(hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteString(s[start:i])
			b.WriteString(`\ufffd`)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b.WriteString(s[start:i])
			b.WriteString(`\u202`)
			b.WriteByte(hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b.WriteString(s[start:])
	b.WriteByte('"')
}
