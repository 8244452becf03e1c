package hooks

import (
	"fmt"
	"os"
	"syscall"
)

// checkPeer asks the kernel which user the process listening on the other
// end of fd runs as (SO_PEERCRED, fixed when it called listen), so that a
// socket swapped in between CheckSocket and connect is caught too.
func checkPeer(fd int, path string) error {
	cred, err := syscall.GetsockoptUcred(fd, syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	if err != nil {
		return os.NewSyscallError("getsockopt SO_PEERCRED", err)
	}
	if int(cred.Uid) != os.Getuid() {
		return &UntrustedError{Kind: "daemon", Path: path, UID: int(cred.Uid),
			Reason: fmt.Sprintf("the process listening on it (pid %d) runs as uid %d", cred.Pid, cred.Uid)}
	}
	return nil
}
