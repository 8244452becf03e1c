package sessions

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/weave-agentd/weave-agentd/transcript"
)

const (
	headLen   = 64      // bytes hashed to recognise a replaced file
	readChunk = 1 << 20 // bytes read per syscall
	maxLine   = transcript.MaxLine
)

// fileState is what survives a restart for one tailed file; it is committed
// in the same transaction as the spans built from the bytes before Offset.
type fileState struct {
	Offset  int64  `json:"offset"`
	Ino     uint64 `json:"ino,omitempty"`
	Head    string `json:"head,omitempty"` // sha256 of the first HeadLen bytes
	HeadLen int    `json:"head_len,omitempty"`
	// Skipping: Offset is inside an oversized line being skipped; resume by
	// discarding up to its newline.
	Skipping bool `json:"skipping,omitempty"`
}

func decodeFileState(b []byte) fileState {
	var st fileState
	if len(b) > 0 {
		_ = json.Unmarshal(b, &st)
	}
	return st
}

func (st fileState) encode() []byte {
	b, _ := json.Marshal(st)
	return b
}

// blockedReadLimit bounds one read of a transcript that can block (see read).
const blockedReadLimit = 5 * time.Second

// tailer reads complete lines of one append-only file from a saved offset.
// A partial last line is left for later; a truncated or replaced file is
// detected and read again from the start.
type tailer struct {
	path    string
	st      fileState
	skipped int64 // oversized lines skipped
	resets  int64 // truncations or replacements seen
	buf     []byte

	tailSkipping bool // readLines: whether its tail offset is inside a skip

	skip *skipError // why the path was not read last time, if it was not
}

// read feeds complete lines to fn until EOF or until about budget bytes were
// consumed. It reports the bytes consumed and whether EOF was reached.
// fn also gets the file offset just past the line.
func (t *tailer) read(budget int64, fn func(line []byte, end int64)) (int64, bool, error) {
	if t.skip != nil && pathID(t.path) == t.skip.id {
		return 0, true, t.skip // skipped, and unchanged since: not opened again
	}
	f, fi, err := openTranscript(t.path)
	t.skip = nil
	if errors.Is(err, os.ErrNotExist) {
		return 0, true, nil // not written yet, or deleted: nothing to read
	}
	if err != nil {
		var se *skipError
		if errors.As(err, &se) {
			t.skip = se
		}
		return 0, true, err // a *skipError: not a regular file of ours
	}
	defer f.Close()
	// A pseudo-file that stats as a regular file of ours (/proc/kmsg for a
	// daemon run as root) can block a read forever, and with it the actor,
	// flush and shutdown. Such files are pollable, so each read gets a
	// deadline; a file on disk takes none (os.ErrNoDeadline) and is unaffected.
	pollable := f.SetReadDeadline(time.Now().Add(blockedReadLimit)) == nil
	if err := t.checkIdentity(f, fi); err != nil {
		return 0, true, err
	}
	if _, err := f.Seek(t.st.Offset, io.SeekStart); err != nil {
		return 0, true, err
	}
	cp := chunkPool.Get().(*[]byte)
	defer chunkPool.Put(cp)
	start := t.st.Offset
	var r io.Reader = f
	if pollable {
		r = deadlineReader{f}
	}
	lr := transcript.NewLineReader(r, start, t.st.Skipping)
	lr.SetBuffers(*cp, t.buf)
	lr.SetBudget(budget)
	var rerr error
	for {
		line, err := lr.Next()
		if err != nil {
			rerr = err
			break
		}
		fn(line, lr.Offset())
	}
	t.skipped += lr.Skipped()
	consumed := lr.Offset() - start
	t.st.Offset, t.st.Skipping = lr.Offset(), lr.Skipping()
	switch {
	case errors.Is(rerr, os.ErrDeadlineExceeded):
		t.skip = &skipError{path: t.path, reason: "reading it blocks: a special file, not a plain one", id: pathID(t.path)}
		return consumed, true, t.skip
	case rerr == io.EOF:
		t.keepBuf(lr.Pending())
		return consumed, true, nil
	case rerr == transcript.ErrBudget:
		t.keepBuf(lr.Pending())
		return consumed, false, nil
	}
	return consumed, true, rerr
}

// deadlineReader gives each read of a pollable file blockedReadLimit.
type deadlineReader struct{ f *os.File }

func (d deadlineReader) Read(p []byte) (int, error) {
	_ = d.f.SetReadDeadline(time.Now().Add(blockedReadLimit)) // cannot fail: it did in read
	return d.f.Read(p)
}

// chunkPool holds read buffers: every session's tailers read often, and a
// fresh readChunk-sized buffer per read was most of the daemon's garbage.
var chunkPool = sync.Pool{New: func() any { b := make([]byte, readChunk); return &b }}

func (t *tailer) keepBuf(b []byte) {
	if cap(b) <= 4<<20 {
		t.buf = b[:0]
	} else {
		t.buf = nil // don't pin a huge buffer
	}
}

// checkIdentity resets the offset when the file was truncated or replaced.
func (t *tailer) checkIdentity(f *os.File, fi os.FileInfo) error {
	ino := fileIno(fi)
	head := make([]byte, min(int64(headLen), fi.Size()))
	if _, err := io.ReadFull(f, head); err != nil {
		return fmt.Errorf("read head of %s: %w", t.path, err)
	}
	sum := sha256.Sum256(head)
	reset := false
	switch {
	case t.st.Ino != 0 && ino != 0 && ino != t.st.Ino:
		reset = true // replaced by another file
	case fi.Size() < t.st.Offset:
		reset = true // truncated
	case t.st.HeadLen > 0 && len(head) >= t.st.HeadLen:
		old := sha256.Sum256(head[:t.st.HeadLen])
		reset = hex.EncodeToString(old[:]) != t.st.Head
	}
	if reset && t.st.Offset > 0 {
		t.resets++
		t.st.Offset = 0
		t.st.Skipping = false
	}
	t.st.Ino = ino
	if len(head) >= t.st.HeadLen || reset {
		t.st.HeadLen = len(head)
		t.st.Head = hex.EncodeToString(sum[:])
	}
	return nil
}

// tailLine is one complete line read ahead, with the file offset just past it.
type tailLine struct {
	b   []byte
	end int64
}

// readLines reads complete lines from the saved offset without consuming
// them: the caller feeds some and calls consume with the end of the last one
// fed. tail is the offset past everything read (blank and skipped lines
// included), to consume once every line was fed.
func (t *tailer) readLines(budget int64) (lines []tailLine, tail int64, eof bool, err error) {
	start, skipping := t.st.Offset, t.st.Skipping
	_, eof, err = t.read(budget, func(line []byte, end int64) {
		b := bytes.Clone(line)
		lines = append(lines, tailLine{b: b, end: end})
	})
	tail, t.tailSkipping = t.st.Offset, t.st.Skipping
	t.st.Offset, t.st.Skipping = start, skipping
	return lines, tail, eof, err
}

// consume marks everything up to end (a line end from readLines, or its
// tail) as read.
func (t *tailer) consume(end, tail int64) {
	if end > t.st.Offset {
		t.st.Offset = end
		t.st.Skipping = end == tail && t.tailSkipping
	}
}
