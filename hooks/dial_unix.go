//go:build unix

package hooks

import (
	"io"
	"os"
	"syscall"
	"time"
)

// dial connects to the daemon's Unix socket with plain system calls: the net
// package's initialisation and size are a measurable share of a hook
// process's life. The socket is non-blocking, so the returned file honours
// deadlines through the runtime's poller. As with net.Dial on a Unix socket,
// a full listen backlog fails at once (EAGAIN) instead of waiting.
func dial(path string, deadline time.Time) (io.ReadWriteCloser, error) {
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	syscall.CloseOnExec(fd)
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil, os.NewSyscallError("setnonblock", err)
	}
	for {
		err = syscall.Connect(fd, &syscall.SockaddrUnix{Name: path})
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		syscall.Close(fd)
		return nil, &os.PathError{Op: "connect", Path: path, Err: err}
	}
	if err := checkPeer(fd, path); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), path)
	if err := f.SetDeadline(deadline); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
