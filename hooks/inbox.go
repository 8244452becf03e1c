package hooks

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// AppendInbox appends ev as one JSON line to the inbox journal (mode 0600),
// under an exclusive flock so concurrent hooks and the draining daemon never
// interleave. If the daemon renamed the journal away between our open and our
// lock, we reopen, so no event lands in a file that is about to be deleted.
//
// The journal holds payloads before redaction, so it is only written in a
// folder of ours that nobody else can write (CheckPrivateDir), never through
// a symbolic link, and only when it is a regular file of ours. When the
// inbox path holds anything else (a folder, a FIFO, a symbolic link, a file
// of another user), the event goes to the fallback journal beside it
// (fallbackInbox), which DrainInbox drains too, rather than being lost.
func AppendInbox(path string, ev *Event) error {
	line, err := MarshalEvent(ev)
	if err != nil {
		return fmt.Errorf("encode inbox event: %w", err)
	}
	line = append(line, '\n')
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("inbox folder: %w", err)
	}
	if err := CheckPrivateDir(dir, "state folder"); err != nil {
		return fmt.Errorf("inbox folder: %w", err)
	}
	err = appendJournal(path, line)
	var unusable *unusableJournal
	if !errors.As(err, &unusable) {
		return err
	}
	if ferr := appendJournal(fallbackInbox(path), line); ferr != nil {
		return errors.Join(err, fmt.Errorf("fallback: %w", ferr))
	}
	return nil
}

// fallbackInbox is the journal beside the inbox at path that takes the
// events when the inbox path holds something we must not write.
func fallbackInbox(path string) string {
	return filepath.Join(filepath.Dir(path), "fallback-"+filepath.Base(path))
}

// unusableJournal: the journal's path holds something the hook must not
// open or write (openJournal refused it).
type unusableJournal struct{ err error }

func (u *unusableJournal) Error() string { return u.err.Error() }
func (u *unusableJournal) Unwrap() error { return u.err }

// appendJournal appends line to the journal at path (see AppendInbox).
func appendJournal(path string, line []byte) error {
	for attempt := 0; attempt < 5; attempt++ {
		f, err := openJournal(path, os.O_RDWR|os.O_APPEND|os.O_CREATE)
		if err != nil {
			return &unusableJournal{err}
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			return fmt.Errorf("lock inbox: %w", err)
		}
		if !sameFile(f, path) {
			f.Close() // renamed or removed by the daemon meanwhile: retry
			continue
		}
		if partialLastLine(f) {
			// A hook killed mid-write left half a line: end it, so this
			// event is not glued onto it (the fragment is skipped as bad).
			line = append([]byte{'\n'}, line...)
		}
		_, werr := f.Write(line)
		cerr := f.Close() // also releases the lock
		if werr != nil {
			return fmt.Errorf("append inbox: %w", werr)
		}
		return cerr
	}
	return errors.New("inbox kept moving while appending")
}

// partialLastLine reports whether f is non-empty and does not end in '\n'.
func partialLastLine(f *os.File) bool {
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return false
	}
	var last [1]byte
	if _, err := f.ReadAt(last[:], fi.Size()-1); err != nil {
		return false
	}
	return last[0] != '\n'
}

// openJournal opens the inbox at path without following a symbolic link and
// refuses anything but a regular file of ours. O_NONBLOCK keeps a FIFO there
// from blocking the open (for reading it would wait for a writer, wedging the
// daemon's start); it changes nothing for the regular file we accept.
func openJournal(path string, flag int) (*os.File, error) {
	f, err := os.OpenFile(path, flag|syscall.O_NOFOLLOW|syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0o600)
	if errors.Is(err, syscall.ELOOP) {
		if fi, lerr := os.Lstat(path); lerr == nil {
			return nil, untrusted("inbox", path, "is a symbolic link", fi)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open inbox: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open inbox: %w", err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, untrusted("inbox", path, "is not a regular file", fi)
	}
	if uid := fileOwner(fi); uid != os.Getuid() {
		f.Close()
		return nil, untrusted("inbox", path, "belongs to another user", fi)
	}
	return f, nil
}

func sameFile(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	if err != nil {
		return false
	}
	return os.SameFile(a, b)
}

// maxInboxLine bounds one journal line held in memory: an event fits a
// frame, and JSON escaping can make its line a few times larger. A longer
// line is garbage, skipped without being buffered.
const maxInboxLine = 4 * MaxFrame

// DrainInbox takes the journal at path away from the hooks (rename under the
// lock), calls fn with each event in order, and deletes the taken file only
// when fn succeeded for all of them. A journal left over from an interrupted
// drain is processed first. Malformed lines are passed to bad and skipped;
// fn is called after them even when no event came with them (evs empty), so
// the caller can commit their count with the rest.
//
// The fallback journal (fallbackInbox) is drained first: the hooks write it
// only while the inbox path is unusable, so its events are the older ones.
// An unusable inbox or fallback is reported, after the other was drained.
func DrainInbox(path string, fn func([]*Event) error, bad func(line []byte, err error)) (int, error) {
	n, ferr := drainJournal(fallbackInbox(path), fn, bad)
	if ferr != nil {
		ferr = fmt.Errorf("fallback inbox: %w", ferr)
	}
	m, err := drainJournal(path, fn, bad)
	return n + m, errors.Join(ferr, err)
}

// drainJournal drains the journal at path (see DrainInbox).
func drainJournal(path string, fn func([]*Event) error, bad func(line []byte, err error)) (int, error) {
	taken := path + ".draining"
	if _, err := os.Stat(taken); errors.Is(err, os.ErrNotExist) {
		f, err := openJournal(path, os.O_RDWR)
		if errors.Is(err, os.ErrNotExist) {
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			return 0, fmt.Errorf("lock inbox: %w", err)
		}
		err = os.Rename(path, taken)
		f.Close()
		if err != nil {
			return 0, fmt.Errorf("take inbox: %w", err)
		}
	}
	f, err := openJournal(taken, os.O_RDONLY)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	r := bufio.NewReaderSize(f, 64<<10)
	batch := make([]*Event, 0, 256)
	badSince := 0 // malformed lines since the last call of fn
	flush := func() error {
		if len(batch) == 0 && badSince == 0 {
			return nil
		}
		if err := fn(batch); err != nil {
			return err
		}
		n += len(batch)
		batch, badSince = batch[:0], 0
		return nil
	}
	for {
		line, long, err := readLine(r, maxInboxLine)
		switch {
		case long:
			badSince++
			bad(line, fmt.Errorf("inbox line over %d bytes", maxInboxLine))
		case len(bytes.TrimSpace(line)) > 0:
			if err == io.EOF {
				// A partial last line (a hook killed mid-write) is garbage.
				badSince++
				bad(line, errors.New("partial line"))
			} else {
				var ev Event
				if jerr := json.Unmarshal(line, &ev); jerr != nil || ev.ID == "" {
					badSince++
					bad(line, fmt.Errorf("malformed inbox line: %v", jerr))
				} else {
					batch = append(batch, &ev)
				}
			}
		}
		if len(batch) == cap(batch) {
			if ferr := flush(); ferr != nil {
				return n, ferr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, fmt.Errorf("read inbox: %w", err)
		}
	}
	if err := flush(); err != nil {
		return n, err
	}
	if err := os.Remove(taken); err != nil {
		return n, fmt.Errorf("remove drained inbox: %w", err)
	}
	return n, nil
}

// readLine reads up to and including the next '\n'. A line longer than limit
// is consumed without being kept: long is true and line nil.
func readLine(r *bufio.Reader, limit int) (line []byte, long bool, err error) {
	for {
		frag, err := r.ReadSlice('\n')
		if !long && len(line)+len(frag) > limit {
			long, line = true, nil
		}
		if !long {
			line = append(line, frag...)
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return line, long, err
		}
	}
}
