//go:build unix

package ingest

import "syscall"

func umask(m int) int { return syscall.Umask(m) }
