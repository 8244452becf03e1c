//go:build unix

package daemon

import (
	"os"
	"syscall"
)

func umask(m int) int { return syscall.Umask(m) }

func fileIno(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino)
	}
	return 0
}
