package ingest

import (
	"fmt"
	"net"
	"os"
	"syscall"
)

// peerUID reads the connecting process's uid (SO_PEERCRED). An error means
// the connection must be refused: an unknown user is not us.
func peerUID(c *net.UnixConn) (int, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("peer credentials: %w", err)
	}
	var cred *syscall.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return 0, fmt.Errorf("peer credentials: %w", err)
	}
	if cerr != nil {
		return 0, os.NewSyscallError("getsockopt SO_PEERCRED", cerr)
	}
	return int(cred.Uid), nil
}
