package hooks

import (
	"bytes"
	"encoding/json"
	"io"
)

// frameOverhead is room left in a frame for the event's envelope.
const frameOverhead = 4 << 10

// maxCutMember bounds each member kept from a payload that was cut at
// MaxFrame. Such a payload keeps its envelope (event name, session, paths,
// tool ids, durations, errors) and loses its bulk, so the hook and the
// daemon stay fast on it.
const maxCutMember = 64 << 10

// readPayload reads at most MaxFrame bytes of stdin. An agent hands a hook
// payloads of any size (a tool response holding a whole file), but the
// daemon never takes more than a frame, and reading and parsing 50 MB costs
// the hook far more than its 200 ms budget. So at MaxFrame+1 bytes the hook
// stops reading and closes stdin: the agent's write fails with EPIPE at
// once (as it does for any hook that ignores its input) instead of waiting
// for a reader that will not come. Draining the rest instead could not be
// bounded in time: a blocking stdin pipe takes no read deadline.
// cut reports that the payload went on past what was read.
func readPayload(stdin io.Reader) (raw []byte, cut bool) {
	// Most payloads fit the first buffer; a larger one gets a frame's worth
	// at once, instead of io.ReadAll's doublings (each one zeroed and copied).
	raw = make([]byte, 0, 64<<10)
	for len(raw) <= MaxFrame {
		if len(raw) == cap(raw) {
			raw = append(make([]byte, 0, MaxFrame+1), raw...)
		}
		n, err := stdin.Read(raw[len(raw):cap(raw)])
		raw = raw[:len(raw)+n]
		if err != nil {
			break
		}
	}
	if len(raw) <= MaxFrame {
		return raw, false
	}
	if c, ok := stdin.(io.Closer); ok {
		_ = c.Close()
	}
	return raw[:MaxFrame], true
}

// member is one top-level "key": value of a JSON object, as raw bytes.
type member struct{ key, val []byte }

func (m member) name() string {
	var s string
	if json.Unmarshal(m.key, &s) != nil {
		return string(m.key)
	}
	return s
}

// reduceCut turns the first MaxFrame bytes of a longer payload into a valid
// JSON object: the members that ended before the cut and are at most
// maxCutMember long. dropped names the members left out, the one the cut
// fell in included. ok is false when b does not start as a JSON object.
func reduceCut(b []byte) (payload []byte, dropped []string, ok bool) {
	ms, cutKey, ok := members(b)
	if !ok {
		return nil, nil, false
	}
	kept := ms[:0]
	for _, m := range ms {
		if len(m.val) <= maxCutMember && json.Valid(m.key) && json.Valid(m.val) {
			kept = append(kept, m)
		} else {
			dropped = append(dropped, m.name())
		}
	}
	if cutKey != nil {
		dropped = append(dropped, member{key: cutKey}.name())
	}
	return join(kept), dropped, true
}

// join writes members back as one object, in their order.
func join(ms []member) []byte {
	n := 2
	for _, m := range ms {
		n += len(m.key) + len(m.val) + 2
	}
	out := make([]byte, 0, n)
	out = append(out, '{')
	for i, m := range ms {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, m.key...)
		out = append(out, ':')
		out = append(out, m.val...)
	}
	return append(out, '}')
}

// members splits the top-level object in b into its members without
// decoding them. When b ends inside the object (a cut payload), it returns
// the members that ended before the cut and, in cutKey, the raw key of the
// one the cut fell in (nil when it fell between members). It checks only
// the object's outline; ok is false when b is not one.
func members(b []byte) (ms []member, cutKey []byte, ok bool) {
	i := skipSpace(b, 0)
	if i == len(b) || b[i] != '{' {
		return nil, nil, false
	}
	i++
	for {
		i = skipSpace(b, i)
		switch {
		case i == len(b):
			return ms, nil, true
		case b[i] == '}':
			return ms, nil, true
		case b[i] == ',' && len(ms) > 0:
			i = skipSpace(b, i+1)
		}
		if i == len(b) {
			return ms, nil, true
		}
		if b[i] != '"' {
			return nil, nil, false
		}
		kEnd, whole := skipString(b, i)
		if !whole {
			return ms, nil, true
		}
		key := b[i:kEnd]
		i = skipSpace(b, kEnd)
		if i == len(b) {
			return ms, key, true
		}
		if b[i] != ':' {
			return nil, nil, false
		}
		i = skipSpace(b, i+1)
		vEnd, whole := skipValue(b, i)
		if !whole {
			return ms, key, true
		}
		ms = append(ms, member{key: key, val: b[i:vEnd]})
		i = vEnd
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] ('"');
// whole is false when b ends first.
func skipString(b []byte, i int) (end int, whole bool) {
	j := i + 1
	for {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return len(b), false
		}
		q := j + k
		n := 0
		for p := q - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return q + 1, true
		}
		j = q + 1
	}
}

// skipValue returns the index after the value starting at b[i]; whole is
// false when b ends first (a number at the very end counts as cut: more
// digits may have followed).
func skipValue(b []byte, i int) (end int, whole bool) {
	if i == len(b) {
		return i, false
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				e, whole := skipString(b, j)
				if !whole {
					return len(b), false
				}
				j = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, true
				}
			}
		}
		return len(b), false
	}
	for j := i; j < len(b); j++ {
		switch b[j] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return j, true
		}
	}
	return len(b), false
}
