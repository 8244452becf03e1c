// Package regular opens a file only if it is a regular file, without
// blocking on a FIFO or reading a device: what transcript paths from hook
// payloads and the config file need. Standard library only.
package regular

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// NotRegularError is returned by Open for a path that is not a regular
// file: a FIFO (reading it blocks until a writer comes), a device
// (/dev/zero never ends), a folder or a socket. Such a path is skipped,
// never read.
type NotRegularError struct {
	Path string
	Mode fs.FileMode
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s is %s, not a regular file", e.Path, Kind(e.Mode))
}

// Kind names the type of a file mode for messages ("a FIFO", "a folder").
func Kind(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "a regular file"
	case m.IsDir():
		return "a folder"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "an irregular file"
}

// Open opens a file (a transcript path from a hook payload or found on
// disk, the config file) for reading, only if it is a regular file. The
// path is checked with stat first, so that a device or FIFO is not even
// opened; the open itself is non-blocking (a FIFO swapped in meanwhile does
// not wait for a writer) and without taking a terminal; the opened
// descriptor is checked again with fstat, which is what counts (a symlink,
// or a file replaced between the two checks). O_NONBLOCK has no effect on
// reading a regular file.
func Open(path string) (*os.File, fs.FileInfo, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fi, &NotRegularError{Path: path, Mode: fi.Mode()}
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, fi, err
	}
	fi, err = f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fi, &NotRegularError{Path: path, Mode: fi.Mode()}
	}
	return f, fi, nil
}

// NotOwnError is returned by OpenOwn for a file of another user.
type NotOwnError struct {
	Path string
	UID  int
}

func (e *NotOwnError) Error() string {
	return fmt.Sprintf("%s belongs to uid %d, not to this user (uid %d)", e.Path, e.UID, os.Getuid())
}

// OpenOwn is Open for a file that must also be the user's own: a file a
// span builder reads beside a transcript (a subagent's metadata or chat
// file), whose content would otherwise land in this user's traces from
// someone else's hand.
func OpenOwn(path string) (*os.File, fs.FileInfo, error) {
	f, fi, err := Open(path)
	if err != nil {
		return f, fi, err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		f.Close()
		return nil, fi, &NotOwnError{Path: path, UID: int(st.Uid)}
	}
	return f, fi, nil
}
