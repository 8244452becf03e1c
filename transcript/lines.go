package transcript

import (
	"bytes"
	"errors"
	"io"
)

// MaxLine is the longest transcript line read, by every agent and every
// reader (the daemon's tailer, sessions, show): a longer line is skipped
// whole and counted, never held in memory.
const MaxLine = 32 << 20

// readChunk is the bytes read per system call.
const readChunk = 1 << 20

// ErrBudget is returned by LineReader.Next once the reader consumed its
// budget (see SetBudget): the lines already read were all returned.
var ErrBudget = errors.New("transcript: read budget used")

// LineReader reads the complete lines of a transcript, one at a time,
// without their newline (nor a carriage return before it). Blank lines are
// skipped; a line longer than its cap is skipped and counted. A last line
// without a newline is left unread (a live transcript may be mid-write)
// unless ReadLast was called.
//
// Offsets count from where the reader starts: Offset is just past the last
// line returned or skipped, where a later reader resumes.
type LineReader struct {
	r        io.Reader
	max      int
	chunk    []byte
	data     []byte // read, not split yet
	pending  []byte // the start of a line whose newline is not read yet
	off      int64
	skipping bool // inside an oversized line, dropping up to its newline
	skipped  int64
	budget   int64 // stop reading once off reaches this, when limited
	limited  bool
	last     bool // return a last line without newline
	err      error
}

// NewLineReader reads lines from r, which is at offset off of its file.
// skipping says that off is inside an oversized line (the Skipping of an
// earlier reader): everything up to the next newline is dropped.
func NewLineReader(r io.Reader, off int64, skipping bool) *LineReader {
	return &LineReader{r: r, max: MaxLine, off: off, skipping: skipping}
}

// SetMax sets the line cap (MaxLine by default); for tests.
func (lr *LineReader) SetMax(n int) { lr.max = n }

// SetBuffers lets the reader use chunk for reading (len(chunk) bytes a call)
// and pending to assemble lines, so callers can reuse them.
func (lr *LineReader) SetBuffers(chunk, pending []byte) { lr.chunk, lr.pending = chunk, pending[:0] }

// SetBudget makes Next return ErrBudget, instead of reading more, once about
// n bytes were consumed from the start offset (whole reads: lines already
// read are returned first).
func (lr *LineReader) SetBudget(n int64) { lr.budget, lr.limited = lr.off+n, true }

// ReadLast makes the reader return a last line without newline at EOF.
func (lr *LineReader) ReadLast() { lr.last = true }

// Offset is the file offset just past the last line returned or skipped.
func (lr *LineReader) Offset() int64 { return lr.off }

// Skipping reports whether Offset is inside an oversized line.
func (lr *LineReader) Skipping() bool { return lr.skipping }

// Skipped counts the oversized lines skipped.
func (lr *LineReader) Skipped() int64 { return lr.skipped }

// Pending returns the line buffer, for reuse by a later reader.
func (lr *LineReader) Pending() []byte { return lr.pending[:0] }

// Next returns the next line, valid until the following call, or nil and
// io.EOF at the end, ErrBudget, or the read error.
func (lr *LineReader) Next() ([]byte, error) {
	for {
		for len(lr.data) > 0 {
			i := bytes.IndexByte(lr.data, '\n')
			if i < 0 {
				if lr.skipping {
					lr.off += int64(len(lr.data))
				} else if len(lr.pending)+len(lr.data) > lr.max {
					lr.skipping = true
					lr.off += int64(len(lr.pending) + len(lr.data))
					lr.pending = lr.pending[:0]
				} else {
					lr.pending = append(lr.pending, lr.data...)
				}
				lr.data = nil
				break
			}
			line := lr.data[:i]
			lr.data = lr.data[i+1:]
			if lr.skipping {
				lr.skipping = false
				lr.skipped++
				lr.off += int64(i + 1)
				continue
			}
			if len(lr.pending) > 0 {
				line = append(lr.pending, line...)
				lr.pending = line[:0]
			}
			lr.off += int64(len(line) + 1)
			if len(line)+1 > lr.max {
				lr.skipped++
				continue
			}
			if len(bytes.TrimSpace(line)) > 0 {
				return bytes.TrimSuffix(line, []byte("\r")), nil
			}
		}
		if lr.err != nil {
			if lr.err == io.EOF && lr.last {
				lr.last = false
				if lr.skipping {
					lr.skipping = false
					lr.skipped++
				} else if line := bytes.TrimSuffix(lr.pending, []byte("\r")); len(bytes.TrimSpace(line)) > 0 {
					lr.off += int64(len(lr.pending))
					lr.pending = lr.pending[:0]
					return line, nil
				}
			}
			return nil, lr.err
		}
		if lr.limited && lr.off >= lr.budget {
			return nil, ErrBudget
		}
		if lr.chunk == nil {
			lr.chunk = make([]byte, readChunk)
		}
		n, err := lr.r.Read(lr.chunk)
		lr.data = lr.chunk[:n]
		if err == nil && n == 0 {
			err = io.EOF
		}
		lr.err = err
	}
}
