//go:build !linux && !darwin

package ingest

import (
	"errors"
	"net"
)

// peerUID is not checked outside Linux and macOS; the socket's 0700 folder
// and 0600 mode keep other users out.
func peerUID(*net.UnixConn) (int, error) { return 0, errors.ErrUnsupported }
