package sessions

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/weave-agentd/weave-agentd/internal/regular"

	"github.com/weave-agentd/weave-agentd/control"
	"github.com/weave-agentd/weave-agentd/spool"
)

// counterSkippedFiles counts transcript paths skipped because they are not
// regular files of ours (see openTranscript); each path once per identity.
const counterSkippedFiles = "skipped_files"

// counterTruncatedLines counts transcript lines kept in part: content past
// a builder's per-line bounds dropped (transcript.Stats.TruncatedLines).
const counterTruncatedLines = "truncated_lines"

const (
	maxSkippedShown = 20  // skipped files named in status, newest first
	maxSkippedKept  = 256 // skipped files remembered (beyond, the oldest are forgotten)
)

// fileID tells what was at a path when it was skipped: a path is skipped
// (logged, counted) once, and tried again only when this changes — the
// FIFO replaced by a regular file, a chmod, a folder that became readable.
type fileID struct {
	dev, ino uint64
	mode     fs.FileMode
	uid      int
	err      string // the error when the path could not even be stat'ed
}

// skipError is why a transcript path is not read.
type skipError struct {
	path   string
	reason string
	id     fileID
}

func (e *skipError) Error() string { return "skipped " + e.path + ": " + e.reason }

// openTranscript opens a transcript named by a hook payload or found on
// disk. Only a regular file that belongs to the daemon's user is opened: a
// FIFO would block its reader (and SIGTERM), a device like /dev/zero never
// ends, a folder or an unreadable file fails on every try, and a file of
// another user (a path in a shared folder, or one the payload points at)
// would put someone else's content, or someone else's forged turns, into
// this user's traces. Those give a *skipError; a missing file gives an
// error matching fs.ErrNotExist (not written yet: nothing to read).
func openTranscript(path string) (*os.File, fs.FileInfo, error) {
	if !filepath.IsAbs(path) {
		return nil, nil, &skipError{path: path, reason: "not an absolute path (relative to what?)", id: pathID(path)}
	}
	f, fi, err := regular.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, err
	}
	var id fileID
	if fi != nil {
		id.dev, id.ino, id.uid = fileIdentity(fi)
		id.mode = fi.Mode()
	}
	if err != nil {
		var nr *regular.NotRegularError
		var pe *fs.PathError
		var reason string
		switch {
		case errors.As(err, &nr):
			reason = regular.Kind(nr.Mode) + ", not a regular file"
		case errors.As(err, &pe) && lastingOpenError(pe.Err):
			reason = "cannot be opened: " + pe.Err.Error()
		default: // out of descriptors or memory: try again at the next step
			return nil, nil, fmt.Errorf("open %s: %w", path, err)
		}
		if fi == nil {
			id.err = err.Error()
		}
		return nil, nil, &skipError{path: path, reason: reason, id: id}
	}
	if me := os.Getuid(); id.uid >= 0 && id.uid != me {
		f.Close()
		return nil, nil, &skipError{path: path, id: id,
			reason: fmt.Sprintf("belongs to uid %d, not to the daemon's user (uid %d)", id.uid, me)}
	}
	if ownOutput(fi) {
		f.Close()
		return nil, nil, &skipError{path: path, id: id,
			reason: "is the daemon's own log (its standard output or error): reading it would feed on itself"}
	}
	return f, fi, nil
}

// ownOutput reports whether fi is the file the daemon's standard output or
// error goes to (`weave-agentd run > log`, or /proc/self/fd/1 in a payload).
func ownOutput(fi fs.FileInfo) bool {
	for _, f := range []*os.File{os.Stdout, os.Stderr} {
		if st, err := f.Stat(); err == nil && os.SameFile(st, fi) {
			return true
		}
	}
	return false
}

// lastingOpenError reports whether an open failed for a reason that only a
// change at the path cures (permissions, a symlink loop, a file for a
// folder in the path), not for a passing one (EMFILE, ENOMEM, EINTR).
func lastingOpenError(err error) bool {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return false
	}
	switch errno {
	case syscall.EACCES, syscall.EPERM, syscall.ELOOP, syscall.ENOTDIR, syscall.ENAMETOOLONG,
		syscall.EISDIR, syscall.ENXIO, syscall.ENODEV, syscall.EINVAL: // EINVAL: a NUL in the path
		return true
	}
	return false
}

// pathID is what is at path now, as openTranscript records it in a
// skipError: a tailer compares the two to leave a skipped path unopened
// until it changes.
func pathID(path string) fileID {
	fi, err := os.Stat(path)
	if err != nil {
		return fileID{err: err.Error()}
	}
	var id fileID
	id.dev, id.ino, id.uid = fileIdentity(fi)
	id.mode = fi.Mode()
	return id
}

// skippedFile is a transcript path the daemon does not read, and what was
// at the path when it was skipped.
type skippedFile struct {
	control.SkippedFile
	id fileID
}

// skippedFiles remembers the skipped paths, so that each is logged and
// counted once and named in status.
type skippedFiles struct {
	mu sync.Mutex
	m  map[string]skippedFile
}

// note records a skip and reports whether it is news: a path not skipped
// before, or skipped before as something else.
func (s *skippedFiles) note(e *skipError, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.m[e.path]; ok && old.id == e.id {
		return false
	}
	if s.m == nil {
		s.m = map[string]skippedFile{}
	}
	if _, ok := s.m[e.path]; !ok && len(s.m) >= maxSkippedKept {
		oldest := ""
		for p, f := range s.m {
			if oldest == "" || f.Since.Before(s.m[oldest].Since) {
				oldest = p
			}
		}
		delete(s.m, oldest)
	}
	s.m[e.path] = skippedFile{control.SkippedFile{Path: e.path, Reason: e.reason, Since: now}, e.id}
	return true
}

// forget drops a path that was read, or vanished.
func (s *skippedFiles) forget(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, path)
}

// list is the newest skipped files first, at most maxSkippedShown.
func (s *skippedFiles) list() []control.SkippedFile {
	s.mu.Lock()
	out := make([]control.SkippedFile, 0, len(s.m))
	for _, f := range s.m {
		out = append(out, f.SkippedFile)
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Since.Equal(out[j].Since) {
			return out[i].Since.After(out[j].Since)
		}
		return out[i].Path < out[j].Path
	})
	return out[:min(len(out), maxSkippedShown)]
}

// fileSkipped logs and counts a skipped transcript path the first time
// (and again only when what is at the path changes).
func (s *sessions) fileSkipped(e *skipError, log *slog.Logger) {
	if !s.skips.note(e, s.set.Now()) {
		return
	}
	log.Warn("transcript path skipped: only regular files of your own are read; named in 'weave-agentd status'",
		"file", e.path, "reason", e.reason)
	if err := s.store.Batch(func(t *spool.Tx) error { return t.Add(counterSkippedFiles, 1) }); err != nil {
		s.health.Failed(err, s.set.Now())
	}
}

// readResult handles the outcome of reading one of the session's files.
func (a *actor) readResult(path string, err error) {
	var se *skipError
	switch {
	case err == nil:
		a.s.skips.forget(path)
	case errors.As(err, &se):
		a.s.fileSkipped(se, a.log)
	default:
		a.log.Warn("reading transcript", "file", path, "err", err)
	}
}
