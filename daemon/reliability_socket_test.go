package daemon

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weave-agentd/weave-agentd/config"
	"github.com/weave-agentd/weave-agentd/hooks"
)

// When the state path is too long for a socket, the daemon listens in
// /tmp/weave-agentd-<uid>/, a name another user can take first. The daemon
// must refuse a folder there that it does not own, that others can write
// into, or that is a symbolic link — saying which folder and what to do —
// and must refuse before it writes anything under the state folder.
func TestDaemonRefusesASocketFolderOthersControl(t *testing.T) {
	cases := []struct {
		name   string
		root   bool
		want   string
		tamper func(t *testing.T, dir string)
	}{
		{name: "created by another user", root: true, want: "belongs to another user (owner uid 65534", tamper: func(t *testing.T, dir string) {
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(dir, 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "ours but open to everyone", want: "writable by its group and everyone", tamper: func(t *testing.T, dir string) {
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, 0o777); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "a symbolic link", want: "is a symbolic link", tamper: func(t *testing.T, dir string) {
			if err := os.Symlink(t.TempDir(), dir); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.root && os.Getuid() != 0 {
				t.Skip("giving a folder to another uid needs root (CI runs as root)")
			}
			tmp, err := os.MkdirTemp("", "wat-") // a stand-in for /tmp, short enough for a socket
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(tmp) })
			dir := filepath.Join(tmp, "weave-agentd-0")
			tc.tamper(t, dir)
			home := filepath.Join(t.TempDir(), "state")
			paths, _ := hooks.ResolvePaths(func(k string) string { return map[string]string{"WEAVE_AGENTD_HOME": home}[k] })
			paths.Socket = filepath.Join(dir, "agentd.sock")
			cfg, _ := config.Load("")
			d, _ := New(Settings{Paths: paths, Config: cfg})
			err = d.Start(context.Background())
			if err == nil {
				d.Shutdown(context.Background())
				t.Fatal("the daemon started on a socket folder another user could control")
			}
			for _, want := range []string{dir, tc.want, "hint:"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if _, err := os.Lstat(paths.Socket); err == nil {
				t.Error("the daemon created its socket in the refused folder")
			}
			if entries, _ := os.ReadDir(home); len(entries) > 0 {
				t.Errorf("the daemon wrote under the state folder before refusing: %v", entries)
			}
		})
	}
}

// The state folder holds the spool and the inbox of unredacted payloads: a
// folder others can write into, or a link, is refused the same way.
func TestDaemonRefusesAStateFolderOthersCanWrite(t *testing.T) {
	home := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(home, 0o775); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(home, 0o775); err != nil {
		t.Fatal(err)
	}
	paths, _ := hooks.ResolvePaths(func(k string) string { return map[string]string{"WEAVE_AGENTD_HOME": home}[k] })
	cfg, _ := config.Load("")
	d, _ := New(Settings{Paths: paths, Config: cfg})
	err := d.Start(context.Background())
	if err == nil {
		d.Shutdown(context.Background())
		t.Fatal("the daemon started in a state folder its group can write into")
	}
	if !strings.Contains(err.Error(), home) || !strings.Contains(err.Error(), "chmod 700") {
		t.Fatalf("error %q does not name the folder and the fix", err)
	}
	if entries, _ := os.ReadDir(home); len(entries) > 0 {
		t.Errorf("the daemon wrote under the state folder before refusing: %v", entries)
	}
}
