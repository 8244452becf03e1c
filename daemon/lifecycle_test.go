package daemon

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weave-agentd/weave-agentd/config"
	"github.com/weave-agentd/weave-agentd/hooks"
	"github.com/weave-agentd/weave-agentd/spool"
)

// A component that fails to start (ingest, on a socket another process
// listens on) makes Start stop the components started before it and close
// the spool: the error says why, and a daemon started next on the same home
// runs.
func TestFailedStartStopsWhatStarted(t *testing.T) {
	home := t.TempDir()
	paths, err := hooks.ResolvePaths(func(k string) string { return map[string]string{"WEAVE_AGENTD_HOME": home}[k] })
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", paths.Socket)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := config.Load(filepath.Join(home, "none.toml"))
	d, err := New(Settings{Paths: paths, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "is listening on") {
		t.Fatalf("start on a socket in use: %v", err)
	}
	if open := d.store != nil && d.store.View(func(*spool.Tx) error { return nil }) == nil; len(d.running) != 0 || open {
		t.Fatalf("after a failed start: %d component(s) running, spool open: %v", len(d.running), open)
	}
	ln.Close()
	td := startTestDaemon(t, home, config.Target{}, nil)
	if _, err := td.Status(); err != nil {
		t.Fatal(err)
	}
}
