package ingest

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// peerUID reads the connecting process's uid (LOCAL_PEERCRED). An error
// means the connection must be refused: an unknown user is not us.
func peerUID(c *net.UnixConn) (int, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("peer credentials: %w", err)
	}
	var cred *unix.Xucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptXucred(int(fd), unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
	}); err != nil {
		return 0, fmt.Errorf("peer credentials: %w", err)
	}
	if cerr != nil {
		return 0, os.NewSyscallError("getsockopt LOCAL_PEERCRED", cerr)
	}
	return int(cred.Uid), nil
}
