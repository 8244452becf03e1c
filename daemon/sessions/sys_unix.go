//go:build unix

package sessions

import (
	"os"
	"syscall"
)

func fileIno(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino)
	}
	return 0
}

// fileIdentity is what tells one file from another at the same path.
func fileIdentity(fi os.FileInfo) (dev, ino uint64, uid int) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), uint64(st.Ino), int(st.Uid)
	}
	return 0, 0, -1
}
