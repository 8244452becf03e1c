package daemon

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
)

const (
	headLen   = 64       // bytes hashed to recognise a replaced file
	readChunk = 1 << 20  // bytes read per syscall
	maxLine   = 32 << 20 // longer transcript lines are skipped and counted
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
	var consumed int64
	skipping := t.st.Skipping
	pending := t.buf[:0]
	cp := chunkPool.Get().(*[]byte)
	defer chunkPool.Put(cp)
	chunk := *cp
	for consumed < budget {
		if pollable {
			_ = f.SetReadDeadline(time.Now().Add(blockedReadLimit)) // cannot fail: it did above
		}
		n, rerr := f.Read(chunk)
		if errors.Is(rerr, os.ErrDeadlineExceeded) {
			t.st.Offset += consumed
			t.st.Skipping = skipping
			t.skip = &skipError{path: t.path, reason: "reading it blocks: a special file, not a plain one", id: pathID(t.path)}
			return consumed, true, t.skip
		}
		data := chunk[:n]
		for len(data) > 0 {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				if !skipping {
					if len(pending)+len(data) > maxLine {
						skipping = true
						consumed += int64(len(pending) + len(data))
						pending = pending[:0]
					} else {
						pending = append(pending, data...)
					}
				} else {
					consumed += int64(len(data))
				}
				break
			}
			line := data[:i]
			data = data[i+1:]
			if skipping {
				skipping = false
				t.skipped++
				consumed += int64(i + 1)
				continue
			}
			if len(pending) > 0 {
				pending = append(pending, line...)
				line = pending
			}
			consumed += int64(len(line) + 1)
			if len(line)+1 > maxLine {
				t.skipped++
			} else if len(bytes.TrimSpace(line)) > 0 {
				fn(bytes.TrimSuffix(line, []byte("\r")), t.st.Offset+consumed)
			}
			pending = pending[:0]
		}
		if rerr == io.EOF || n == 0 {
			t.st.Offset += consumed
			t.st.Skipping = skipping
			t.keepBuf(pending)
			return consumed, true, nil
		}
		if rerr != nil {
			t.st.Offset += consumed
			t.st.Skipping = skipping
			return consumed, true, rerr
		}
	}
	t.st.Offset += consumed
	t.st.Skipping = skipping
	t.keepBuf(pending)
	return consumed, false, nil
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
	ts  string // the record's "timestamp", "" if none
}

// readLines reads complete lines from the saved offset without consuming
// them: the caller feeds some and calls consume with the end of the last one
// fed. tail is the offset past everything read (blank and skipped lines
// included), to consume once every line was fed.
func (t *tailer) readLines(budget int64) (lines []tailLine, tail int64, eof bool, err error) {
	start, skipping := t.st.Offset, t.st.Skipping
	_, eof, err = t.read(budget, func(line []byte, end int64) {
		b := bytes.Clone(line)
		lines = append(lines, tailLine{b: b, end: end, ts: recordTime(b)})
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

var tsKey = []byte(`"timestamp":"`)

// recordTime extracts a transcript record's ISO-8601 timestamp cheaply.
func recordTime(line []byte) string {
	i := bytes.Index(line, tsKey)
	if i < 0 {
		return ""
	}
	rest := line[i+len(tsKey):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 || j > 40 {
		return ""
	}
	return string(rest[:j])
}
