package claude

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// A small JSON scanner: it walks the top level of an object and hands out
// the raw bytes of each value without decoding them, so that the builder
// decodes only the fields it uses. Large values it never needs (tool
// results echoed in toolUseResult, subagent message copies in progress
// records, file snapshots) are skipped at memchr speed instead of being
// decoded. It never panics; malformed input yields errBadJSON.

var errBadJSON = errors.New("malformed JSON")

func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index just past the string starting at b[i] == '"'.
func skipString(b []byte, i int) (int, error) {
	j := i + 1
	for {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return 0, errBadJSON
		}
		q := j + k
		n := 0
		for p := q - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return q + 1, nil
		}
		j = q + 1
	}
}

// skipValue returns the index just past the value starting at b[i].
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errBadJSON
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); {
			switch b[j] {
			case '"':
				e, err := skipString(b, j)
				if err != nil {
					return 0, err
				}
				j = e
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
			j++
		}
		return 0, errBadJSON
	default:
		j := i
		for j < len(b) {
			switch b[j] {
			case ',', '}', ']', ' ', '\t', '\r', '\n':
				if j == i {
					return 0, errBadJSON
				}
				return j, nil
			}
			j++
		}
		if j == i {
			return 0, errBadJSON
		}
		return j, nil
	}
}

// eachField calls fn for every top-level member of the object in b, with
// the raw key (without quotes, escapes left as they are) and raw value.
func eachField(b []byte, fn func(key, val []byte)) error {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return errBadJSON
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		if skipWS(b, i+1) != len(b) {
			return errBadJSON
		}
		return nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return errBadJSON
		}
		e, err := skipString(b, i)
		if err != nil {
			return err
		}
		key := b[i+1 : e-1]
		i = skipWS(b, e)
		if i >= len(b) || b[i] != ':' {
			return errBadJSON
		}
		i = skipWS(b, i+1)
		e, err = skipValue(b, i)
		if err != nil {
			return err
		}
		fn(key, b[i:e])
		i = skipWS(b, e)
		if i >= len(b) {
			return errBadJSON
		}
		if b[i] == '}' {
			if skipWS(b, i+1) != len(b) {
				return errBadJSON
			}
			return nil
		}
		if b[i] != ',' {
			return errBadJSON
		}
		i = skipWS(b, i+1)
	}
}

// jstr decodes a JSON string value ("" for anything else).
func jstr(v []byte) string {
	if len(v) < 2 || v[0] != '"' {
		return ""
	}
	inner := v[1 : len(v)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		ok := true
		for _, c := range inner {
			if c < 0x20 {
				ok = false
				break
			}
		}
		if ok {
			return string(inner)
		}
	}
	s, ok := unquote(inner)
	if !ok {
		return ""
	}
	return s
}

// unquote decodes the inside of a JSON string as encoding/json does
// (invalid UTF-8 and lone surrogates become U+FFFD), without reflection.
func unquote(in []byte) (string, bool) {
	var out strings.Builder // its bytes become the string without a copy
	out.Grow(len(in))
	for i := 0; i < len(in); {
		j := i // a run of printable ASCII, copied at once
		for j < len(in) && in[j] >= 0x20 && in[j] < utf8.RuneSelf && in[j] != '\\' && in[j] != '"' {
			j++
		}
		out.Write(in[i:j])
		if i = j; i == len(in) {
			break
		}
		c := in[i]
		switch {
		case c == '\\':
			if i+1 >= len(in) {
				return "", false
			}
			switch e := in[i+1]; e {
			case '"', '\\', '/':
				out.WriteByte(e)
			case 'b':
				out.WriteByte('\b')
			case 'f':
				out.WriteByte('\f')
			case 'n':
				out.WriteByte('\n')
			case 'r':
				out.WriteByte('\r')
			case 't':
				out.WriteByte('\t')
			case 'u':
				r, ok := hex4(in, i+2)
				if !ok {
					return "", false
				}
				i += 6
				if utf16.IsSurrogate(r) {
					if r2, ok := hex4(in, i+2); ok && i+1 < len(in) && in[i] == '\\' && in[i+1] == 'u' {
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							out.WriteRune(dec)
							i += 6
							continue
						}
					}
					r = utf8.RuneError
				}
				out.WriteRune(r)
				continue
			default:
				return "", false
			}
			i += 2
		case c < 0x20 || c == '"':
			return "", false
		default:
			r, size := utf8.DecodeRune(in[i:])
			if r == utf8.RuneError && size == 1 {
				out.WriteRune(utf8.RuneError)
			} else {
				out.Write(in[i : i+size])
			}
			i += size
		}
	}
	return out.String(), true
}

// hex4 reads the four hex digits of a \u escape at in[i:].
func hex4(in []byte, i int) (rune, bool) {
	if i+4 > len(in) {
		return 0, false
	}
	var r rune
	for _, c := range in[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

func jbool(v []byte) bool { return string(v) == "true" }

func jint(v []byte) int {
	n, err := strconv.Atoi(string(v))
	if err != nil {
		return 0
	}
	return n
}

func jfloat(v []byte) float64 {
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil {
		return 0
	}
	return f
}

func isObject(v []byte) bool { return len(v) > 0 && v[0] == '{' }

// eachElem calls fn for every element of the array in b.
func eachElem(b []byte, fn func(val []byte)) error {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '[' {
		return errBadJSON
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		return nil
	}
	for {
		e, err := skipValue(b, i)
		if err != nil {
			return err
		}
		fn(b[i:e])
		i = skipWS(b, e)
		if i >= len(b) {
			return errBadJSON
		}
		if b[i] == ']' {
			return nil
		}
		if b[i] != ',' {
			return errBadJSON
		}
		i = skipWS(b, i+1)
	}
}

// Bounds on what decoding one line keeps, whatever the line holds (the
// daemon reads lines of up to 32 MiB): a million one-letter content blocks
// would otherwise become a million blocks, parts and state entries, some
// twenty times the line's size.
const (
	maxLineBlocks = 1024    // content blocks kept per message, nested ones included
	maxBlockDepth = 3       // content inside a block's content inside …: deeper is dropped
	maxLineText   = 4 << 20 // text and thinking bytes kept per message
)

// lineBudget is what is left of those bounds while one message decodes.
type lineBudget struct {
	blocks    int
	text      int
	truncated bool // something was dropped or cut
}

// str decodes a JSON string, cut to what is left of the text budget.
func (lb *lineBudget) str(v []byte) string {
	s := jstr(v)
	if len(s) <= lb.text {
		lb.text -= len(s)
		return s
	}
	s = truncUTF8(s, lb.text) + "…[truncated]"
	lb.text, lb.truncated = 0, true
	return s
}

// decodeMessage fills m from a message object with the scanner.
func decodeMessage(v []byte, m *message) error {
	var u []byte
	lb := lineBudget{blocks: maxLineBlocks, text: maxLineText}
	defer func() { m.Truncated = lb.truncated }()
	err := eachField(v, func(k, val []byte) {
		switch string(k) {
		case "id":
			m.ID = jstr(val)
		case "model":
			m.Model = jstr(val)
		case "role":
			m.Role = jstr(val)
		case "stop_reason":
			if len(val) > 0 && val[0] == '"' {
				s := jstr(val)
				m.StopReason = &s
			}
		case "content":
			decodeContent(val, &m.Content, &lb, 0)
		case "usage":
			u = val
		}
	})
	if err != nil {
		return err
	}
	if isObject(u) {
		m.Usage = new(usage)
		if err := json.Unmarshal(u, m.Usage); err != nil {
			m.Usage = nil
		}
	}
	return nil
}

// decodeContent fills c from a string or an array of blocks, within lb;
// depth is how deep in other blocks' content c is.
func decodeContent(v []byte, c *content, lb *lineBudget, depth int) {
	if len(v) == 0 {
		return
	}
	switch v[0] {
	case '"':
		c.IsText = true
		c.Text = lb.str(v)
	case '[':
		if depth >= maxBlockDepth {
			c.Dropped++
			lb.truncated = true
			return
		}
		_ = eachElem(v, func(el []byte) {
			if !isObject(el) {
				return
			}
			if lb.blocks == 0 {
				c.Dropped++
				lb.truncated = true
				return
			}
			lb.blocks--
			var bl block
			_ = eachField(el, func(k, val []byte) {
				switch string(k) {
				case "type":
					bl.Type = jstr(val)
				case "text":
					bl.Text = lb.str(val)
				case "thinking":
					bl.Thinking = lb.str(val)
				case "id":
					bl.ID = jstr(val)
				case "name":
					bl.Name = jstr(val)
				case "input":
					bl.Input = val
				case "tool_use_id":
					bl.ToolUseID = jstr(val)
				case "content":
					decodeContent(val, &bl.Content, lb, depth+1)
				case "is_error":
					bl.IsError = jbool(val)
				case "source":
					if isObject(val) {
						bl.Source = new(imageSource)
						_ = eachField(val, func(k, val []byte) {
							switch string(k) {
							case "type":
								bl.Source.Type = jstr(val)
							case "media_type":
								bl.Source.MediaType = jstr(val)
							case "data":
								bl.Source.Data.Size = max(0, len(val)-2)
								if len(val) <= maxInlineImage+2 {
									bl.Source.Data.Data = jstr(val)
								}
							}
						})
					}
				}
			})
			c.Blocks = append(c.Blocks, bl)
		})
	}
}
