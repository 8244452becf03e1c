package daemon

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/config"
)

// SIGTERM while a flush (or a backfill) reads a long transcript to its end
// waited for the end: with a few hundred MB to go the daemon overran its
// 10 s shutdown grace and exited with "sessions shutdown: context deadline
// exceeded". A stopping daemon commits the step in hand and leaves the
// rest for its next start. The transcript here is a sparse file of a TiB,
// which no read finishes: Shutdown returns only if reading stops.
func TestShutdownStopsAReadToTheEnd(t *testing.T) {
	srv := newFakeOTLP(t)
	home := t.TempDir()
	huge := filepath.Join(home, "huge.jsonl")
	f, err := os.OpenFile(huge, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("first-line\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1 << 40); err != nil {
		f.Close()
		t.Skipf("no sparse file of a TiB here: %v", err)
	}
	f.Close()
	td := startTestDaemon(t, home, config.Target{URL: srv.URL}, nil)
	hook(t, home, event("huge", "SessionStart", huge))
	sess := td.sess
	flushed := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), deadlockGuard)
		defer cancel()
		flushed <- sess.Flush(ctx) // reads to the end: it never gets there
	}()
	for srv.accepted()["first-line"] == 0 { // reading has begun
		select {
		case <-flushed:
			t.Fatal("flush returned before the end of the file")
		default:
		}
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadlockGuard)
	defer cancel()
	if err := td.Shutdown(ctx); err != nil {
		t.Errorf("shutdown while a flush reads a long file: %v", err)
	}
	td.Daemon = nil
	if err := <-flushed; err == nil {
		t.Error("the flush of a file not read to its end says it is done")
	}
}

// A request still being handled when the spool closes (a flush, status or
// deadletters list during a shutdown that ran out of grace) dereferenced
// the daemon's nil spool and panicked; it now gets an error.
func TestRequestsAfterShutdownDoNotPanic(t *testing.T) {
	home := t.TempDir()
	td := startTestDaemon(t, home, config.Target{}, nil)
	d := td.Daemon
	ctx, cancel := context.WithTimeout(context.Background(), deadlockGuard)
	defer cancel()
	if err := d.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	td.Daemon = nil
	if res := d.Flush(ctx); res.Done || res.Message == "" {
		t.Errorf("flush after shutdown: %+v", res)
	}
	if _, err := d.Status(); err == nil {
		t.Error("status after shutdown: no error")
	}
}
