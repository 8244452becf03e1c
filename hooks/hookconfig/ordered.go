package hookconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// The agents' config files are human-edited. We edit them as ordered JSON:
// objects keep their keys in file order and every value we do not touch is
// carried as the raw bytes we read (string escapes and number spellings
// included), so the rewritten file means exactly what it meant before.

type member struct {
	key string
	raw json.RawMessage
}

type object []member

func parseObject(raw []byte) (object, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := t.(json.Delim); !ok || d != '{' {
		return nil, errNotObject
	}
	var o object
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, ok := t.(string)
		if !ok {
			return nil, fmt.Errorf("object key is %T", t)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		o = append(o, member{key: k, raw: v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the top-level value")
	}
	return o, nil
}

var (
	errNotObject = errors.New("not a JSON object")
	errNotArray  = errors.New("not a JSON array")
)

func parseArray(raw []byte) ([]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := t.(json.Delim); !ok || d != '[' {
		return nil, errNotArray
	}
	out := []json.RawMessage{}
	for dec.More() {
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	return out, nil
}

func (o object) index(key string) int {
	for i, m := range o {
		if m.key == key {
			return i
		}
	}
	return -1
}

func (o object) get(key string) (json.RawMessage, bool) {
	if i := o.index(key); i >= 0 {
		return o[i].raw, true
	}
	return nil, false
}

// set replaces the value in place, or appends the key.
func (o *object) set(key string, raw json.RawMessage) {
	if i := o.index(key); i >= 0 {
		(*o)[i].raw = raw
		return
	}
	*o = append(*o, member{key: key, raw: raw})
}

func (o *object) del(key string) {
	if i := o.index(key); i >= 0 {
		*o = append((*o)[:i], (*o)[i+1:]...)
	}
}

// marshal writes the object compactly, keys in order.
func (o object) marshal() json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(marshalString(m.key))
		b.WriteByte(':')
		writeCompact(&b, m.raw)
	}
	b.WriteByte('}')
	return b.Bytes()
}

func marshalArray(items []json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, it := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		writeCompact(&b, it)
	}
	b.WriteByte(']')
	return b.Bytes()
}

func writeCompact(b *bytes.Buffer, raw []byte) {
	if err := json.Compact(b, raw); err != nil {
		// raw came from the decoder or from json.Marshal: always valid.
		panic(err)
	}
}

// marshalValue encodes v without HTML escaping (paths may hold & or <).
func marshalValue(v any) json.RawMessage {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

func marshalString(s string) []byte { return marshalValue(s) }

// stringField returns o[key] when it is a JSON string.
func (o object) stringField(key string) (string, bool) {
	raw, ok := o.get(key)
	if !ok {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// detectIndent returns the indentation unit of a pretty-printed document
// (the leading whitespace of its first indented line), or two spaces.
func detectIndent(data []byte) string {
	for _, line := range bytes.Split(data, []byte("\n"))[1:] {
		trimmed := bytes.TrimLeft(line, " \t")
		if len(trimmed) == 0 || len(trimmed) == len(line) {
			continue
		}
		return string(line[:len(line)-len(trimmed)])
	}
	return "  "
}

// format pretty-prints a compact document with the given indent and a final
// newline.
func format(compact []byte, indent string) []byte {
	var b bytes.Buffer
	if err := json.Indent(&b, compact, "", indent); err != nil {
		panic(err)
	}
	b.WriteByte('\n')
	return b.Bytes()
}
