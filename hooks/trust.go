package hooks

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// UntrustedError says that a path a client would hand events to — the
// daemon's socket, its folder, the state folder or the inbox journal — may
// be controlled by another user. Events are never sent to it: a socket in a
// folder someone else created (the /tmp fallback) would give them every
// payload, unredacted, and a voice in the agent's session (SessionStart
// systemMessage).
type UntrustedError struct {
	Kind   string      // "socket", "socket folder", "state folder", "inbox", "daemon"
	Path   string      // what was checked
	Reason string      // e.g. "belongs to another user", "is a symbolic link"
	UID    int         // its owner (the serving process's uid for "daemon")
	Mode   fs.FileMode // as lstat reports it (0 for "daemon")
}

func (e *UntrustedError) Error() string {
	if e.Kind == "daemon" {
		return fmt.Sprintf("the daemon's socket %s is not trusted: %s (you are uid %d)", e.Path, e.Reason, os.Getuid())
	}
	return fmt.Sprintf("%s %s is not trusted: it %s (owner uid %d, mode %04o %s; you are uid %d)",
		e.Kind, e.Path, e.Reason, e.UID, e.Mode.Perm(), e.Mode, os.Getuid())
}

// Hint tells the user how to make the path trusted again.
func (e *UntrustedError) Hint() string {
	switch {
	case e.UID != os.Getuid():
		return fmt.Sprintf("another user may have created it to read your events: remove it (as root: rm -rf %s) "+
			"or set WEAVE_AGENTD_HOME to a short folder of your own, then restart the daemon (weave-agentd restart)", e.Path)
	case e.Mode.IsDir():
		return fmt.Sprintf("make it private (chmod 700 %s) and restart the daemon (weave-agentd restart)", e.Path)
	default: // a link, a socket others could replace, not a regular file
		return fmt.Sprintf("remove it (rm %s) and restart the daemon (weave-agentd restart)", e.Path)
	}
}

// CheckPrivateDir makes sure dir is a real folder (not a symbolic link) that
// belongs to us and that nobody else can write into. It returns an
// *UntrustedError, or lstat's error (fs.ErrNotExist when it is missing).
func CheckPrivateDir(dir, kind string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return untrusted(kind, dir, "is a symbolic link", fi)
	case !fi.IsDir():
		return untrusted(kind, dir, "is not a folder", fi)
	}
	return checkOwner(kind, dir, fi)
}

// CheckSocket makes sure the socket at path and its folder can be trusted
// before a client connects: both lstat'ed (no symbolic links), both ours,
// neither writable by group or others. It costs two lstat calls, so the
// hook runs it on every event.
func CheckSocket(path string) error {
	if err := CheckPrivateDir(filepath.Dir(path), "socket folder"); err != nil {
		return err
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if fi.Mode().Type() != fs.ModeSocket {
		what := "is not a socket"
		if fi.Mode()&fs.ModeSymlink != 0 {
			what = "is a symbolic link"
		}
		return untrusted("socket", path, what, fi)
	}
	return checkOwner("socket", path, fi)
}

func checkOwner(kind, path string, fi fs.FileInfo) error {
	uid := fileOwner(fi)
	if uid != os.Getuid() {
		return untrusted(kind, path, "belongs to another user", fi)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		who := []string{}
		if fi.Mode().Perm()&0o020 != 0 {
			who = append(who, "its group")
		}
		if fi.Mode().Perm()&0o002 != 0 {
			who = append(who, "everyone")
		}
		return untrusted(kind, path, "is writable by "+strings.Join(who, " and "), fi)
	}
	return nil
}

func untrusted(kind, path, reason string, fi fs.FileInfo) *UntrustedError {
	return &UntrustedError{Kind: kind, Path: path, Reason: reason, UID: fileOwner(fi), Mode: fi.Mode()}
}

// fileOwner is the owner's uid; -1 when the platform does not say.
func fileOwner(fi fs.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}
