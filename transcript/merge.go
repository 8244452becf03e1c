package transcript

import (
	"bytes"
	"errors"
	"io"
	"time"
)

// ErrStalled is returned by a MergeInput whose next line is not read yet
// although more may follow (its read-ahead ran out before its end): the
// merge stops there, since no other file's line can safely go first.
var ErrStalled = errors.New("transcript: merge input ran out of read-ahead")

// MergeInput is one file of a session in a Merge.
type MergeInput interface {
	// Next returns the file's next line, valid until the following call;
	// io.EOF when it has no more, ErrStalled, or a read error.
	Next() ([]byte, error)
}

// Merge feeds the lines of a session's files (a main transcript and its
// subagents' files) in the order they were written, as a live reader would
// have seen them: by the lines' timestamps, a line without one taking the
// time of its file's previous line (so lines before a file's first
// timestamp go first), ties to the file added first. Reading a main
// transcript to its end before a background subagent's file would close
// the subagent too early. It holds one pending line per file.
type Merge struct {
	in   []*mergeHead
	last *mergeHead // returned by the previous Next: advanced on the next call
}

type mergeHead struct {
	src     MergeInput
	line    []byte
	t       time.Time
	done    bool
	stalled bool
}

// Add appends a file to the merge and reads its first line. A read error
// other than io.EOF is returned; the file is then left out.
func (m *Merge) Add(src MergeInput) error {
	h := &mergeHead{src: src}
	m.in = append(m.in, h)
	return h.advance()
}

func (h *mergeHead) advance() error {
	line, err := h.src.Next()
	h.line = line
	switch {
	case errors.Is(err, ErrStalled):
		h.stalled = true
		return nil
	case err != nil:
		h.done = true
		if err == io.EOF {
			return nil
		}
		return err
	}
	if t := LineTime(line); !t.IsZero() {
		h.t = t
	}
	return nil
}

// Next returns the next line in write order, the index of its file (in the
// order of Add) and its time (that of an earlier line when it has none).
// The line is valid until the following call. At the end it returns io.EOF;
// ErrStalled when a file ran out of read-ahead; a file's read error with
// its index (the file is then left out, the merge may go on).
func (m *Merge) Next() (int, []byte, time.Time, error) {
	if h := m.last; h != nil {
		m.last = nil
		if err := h.advance(); err != nil {
			return m.index(h), nil, time.Time{}, err
		}
	}
	var next *mergeHead
	for _, h := range m.in {
		if h.stalled {
			return m.index(h), nil, time.Time{}, ErrStalled
		}
		if !h.done && (next == nil || h.t.Before(next.t)) {
			next = h
		}
	}
	if next == nil {
		return -1, nil, time.Time{}, io.EOF
	}
	m.last = next
	return m.index(next), next.line, next.t, nil
}

func (m *Merge) index(h *mergeHead) int {
	for i, c := range m.in {
		if c == h {
			return i
		}
	}
	return -1
}

var tsKey = []byte(`"timestamp":"`)

// LineTime is the time a transcript line was written: its first
// "timestamp" (RFC 3339), or the zero time.
func LineTime(line []byte) time.Time {
	i := bytes.Index(line, tsKey)
	if i < 0 {
		return time.Time{}
	}
	rest := line[i+len(tsKey):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 || j > 40 {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, string(rest[:j]))
	if err != nil {
		return time.Time{}
	}
	return t
}
