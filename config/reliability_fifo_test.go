package config

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// A config file that is a FIFO blocked Load in read(2) until a writer came:
// the daemon's SIGHUP reload then never returned, and its signal loop
// ignored SIGTERM. Load must refuse anything but a regular file, at once.
func TestLoadRefusesAFIFOWithoutBlocking(t *testing.T) {
	p := filepath.Join(t.TempDir(), "config.toml")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := Load(p)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Load of a FIFO succeeded")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Load blocked reading a FIFO")
	}
}
