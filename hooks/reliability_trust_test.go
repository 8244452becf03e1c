package hooks

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// otherUID is a second user for the tests that need one (nobody).
const otherUID = 65534

func needRoot(t *testing.T) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("giving a file to another uid needs root (CI runs as root)")
	}
}

// spy listens on path like a daemon another user planted there would, and
// reports whether any client sent it a byte before the sentinel.
type spy struct {
	path string
	ln   net.Listener
	got  chan string // first line of each accepted connection, in order
}

func newSpy(t *testing.T, path string) *spy {
	t.Helper()
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	s := &spy{path: path, ln: ln, got: make(chan string, 16)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			s.got <- line
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return s
}

// assertNothingReceived connects to the spy's listener itself (whatever the
// path now is, bypassing every check) and sends a sentinel: connections are
// accepted in order, so the sentinel arriving first means no client
// connected before it.
func (s *spy) assertNothingReceived(t *testing.T) {
	t.Helper()
	c, err := net.Dial("unix", s.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("sentinel\n"))
	c.Close()
	select {
	case line := <-s.got:
		if line != "sentinel\n" {
			t.Fatalf("the untrusted socket received %d bytes from the client: %.80q", len(line), line)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the spy accepted nothing, not even the sentinel")
	}
}

func inboxIDs(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("inbox: %v", err)
	}
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var ev Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("inbox line %q: %v", line, err)
		}
		ids = append(ids, ev.ID)
	}
	return ids
}

// The socket falls back to /tmp/weave-agentd-<uid>/ when the state path is
// too long, and another user can create that folder first. Each case plants
// a listener where the hook would connect; the hook must never send to it,
// must journal the event in the inbox under the user's own state folder,
// and Call must say why (UntrustedError), for status and doctor.
func TestHookNeverSendsToAnUntrustedSocket(t *testing.T) {
	cases := []struct {
		name     string
		root     bool // needs a second uid
		kind     string
		reason   string
		tamper   func(t *testing.T, dir, sock string)
		sockPath func(dir string) string // where the hook looks (default dir/agentd.sock)
	}{
		{name: "folder created by another user", root: true, kind: "socket folder", reason: "belongs to another user (owner uid 65534",
			tamper: func(t *testing.T, dir, _ string) { chown(t, dir, otherUID) }},
		{name: "socket owned by another user", root: true, kind: "socket", reason: "belongs to another user (owner uid 65534",
			tamper: func(t *testing.T, _, sock string) { chown(t, sock, otherUID) }},
		{name: "group-writable folder", kind: "socket folder", reason: "writable by its group",
			tamper: func(t *testing.T, dir, _ string) { chmod(t, dir, 0o770) }},
		{name: "world-writable folder", kind: "socket folder", reason: "writable by its group and everyone",
			tamper: func(t *testing.T, dir, _ string) { chmod(t, dir, 0o777|os.ModeSticky) }},
		{name: "world-writable socket", kind: "socket", reason: "writable by its group and everyone",
			tamper: func(t *testing.T, _, sock string) { chmod(t, sock, 0o666) }},
		{name: "symlinked socket", kind: "socket", reason: "is a symbolic link",
			tamper: func(t *testing.T, dir, sock string) {
				if err := os.Symlink(sock, filepath.Join(dir, "link.sock")); err != nil {
					t.Fatal(err)
				}
			},
			sockPath: func(dir string) string { return filepath.Join(dir, "link.sock") }},
		{name: "symlinked folder", kind: "socket folder", reason: "is a symbolic link",
			tamper: func(t *testing.T, dir, _ string) {
				if err := os.Symlink(dir, dir+"-link"); err != nil {
					t.Fatal(err)
				}
			},
			sockPath: func(dir string) string { return filepath.Join(dir+"-link", "agentd.sock") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.root {
				needRoot(t)
			}
			// A stand-in for /tmp (sticky, open to all) and the user's home.
			tmp := shortTempDir(t)
			chmod(t, tmp, 0o777|os.ModeSticky)
			dir := filepath.Join(tmp, "weave-agentd-0")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			sock := filepath.Join(dir, "agentd.sock")
			s := newSpy(t, sock)
			tc.tamper(t, dir, sock)
			if tc.sockPath != nil {
				sock = tc.sockPath(dir)
			}
			state := filepath.Join(t.TempDir(), "state")
			paths := Paths{StateDir: state, Socket: sock, Inbox: filepath.Join(state, "inbox.jsonl")}

			ev := &Event{ID: "ev1", Agent: AgentClaude, Name: "SessionStart", Session: "s1",
				Payload: json.RawMessage(`{"session_id":"s1","hook_event_name":"SessionStart","prompt":"secret"}`)}
			if warning := send(paths, time.Second, ev); warning != "" {
				t.Fatalf("the hook printed a warning from an untrusted socket: %q", warning)
			}
			s.assertNothingReceived(t)
			if ids := inboxIDs(t, paths.Inbox); len(ids) != 1 || ids[0] != "ev1" {
				t.Fatalf("inbox ids = %v, want [ev1]", ids)
			}

			_, err := Call(sock, time.Second, &Request{Op: OpStatus})
			ue, ok := errors.AsType[*UntrustedError](err)
			if !ok {
				t.Fatalf("Call: %v, want an UntrustedError", err)
			}
			if ue.Kind != tc.kind || !strings.Contains(ue.Error(), tc.reason) || ue.Hint() == "" {
				t.Fatalf("Call: kind %q, %v (hint %q); want kind %q saying %q", ue.Kind, ue, ue.Hint(), tc.kind, tc.reason)
			}
			s.assertNothingReceived(t)
		})
	}
}

// The inbox holds payloads before redaction. A journal that is a symbolic
// link (to someone else's file, or one of ours they could read), or a state
// folder others can write into, must never receive them.
func TestInboxRefusesLinksAndFoldersOthersControl(t *testing.T) {
	ev := &Event{ID: "ev1", Payload: json.RawMessage(`{"prompt":"secret"}`)}

	t.Run("symlinked journal", func(t *testing.T) {
		state := t.TempDir()
		victim := filepath.Join(t.TempDir(), "victim")
		if err := os.WriteFile(victim, []byte("keep\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(state, "inbox.jsonl")
		if err := os.Symlink(victim, path); err != nil {
			t.Fatal(err)
		}
		// Not through the link: into the fallback journal beside it.
		if err := AppendInbox(path, ev); err != nil {
			t.Fatalf("AppendInbox beside a link: %v", err)
		}
		if b, _ := os.ReadFile(fallbackInbox(path)); !strings.Contains(string(b), `"ev1"`) {
			t.Fatalf("fallback journal = %q, want the event", b)
		}
		if b, _ := os.ReadFile(victim); string(b) != "keep\n" {
			t.Fatalf("the link's target was written: %q", b)
		}
	})
	t.Run("group-writable state folder", func(t *testing.T) {
		state := t.TempDir()
		chmod(t, state, 0o770)
		err := AppendInbox(filepath.Join(state, "inbox.jsonl"), ev)
		if ue, ok := errors.AsType[*UntrustedError](err); !ok || ue.Kind != "state folder" {
			t.Fatalf("AppendInbox: %v, want an untrusted state folder", err)
		}
	})
	t.Run("journal of another user", func(t *testing.T) {
		needRoot(t)
		state := t.TempDir()
		path := filepath.Join(state, "inbox.jsonl")
		if err := os.WriteFile(path, nil, 0o666); err != nil {
			t.Fatal(err)
		}
		chown(t, path, otherUID)
		if err := AppendInbox(path, ev); err != nil {
			t.Fatalf("AppendInbox beside another user's journal: %v", err)
		}
		if fi, err := os.Lstat(fallbackInbox(path)); err != nil || fileOwner(fi) != os.Getuid() || fi.Mode().Perm() != 0o600 {
			t.Fatalf("fallback journal: %v, %v: want a 0600 file of ours", fi, err)
		}
		if fi, _ := os.Stat(path); fi.Size() != 0 {
			t.Fatalf("another user's journal was written (%d bytes)", fi.Size())
		}
	})
	t.Run("draining a symlinked journal", func(t *testing.T) {
		state := t.TempDir()
		victim := filepath.Join(t.TempDir(), "victim")
		if err := os.WriteFile(victim, []byte(`{"id":"planted","payload":{}}`+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(state, "inbox.jsonl")
		if err := os.Symlink(victim, path); err != nil {
			t.Fatal(err)
		}
		n, err := DrainInbox(path, func([]*Event) error { return nil }, func([]byte, error) {})
		if _, ok := errors.AsType[*UntrustedError](err); !ok || n != 0 {
			t.Fatalf("DrainInbox through a link: %d events, %v; want an untrusted inbox", n, err)
		}
	})
}

// shortTempDir is a temporary folder with a path short enough for a socket
// (t.TempDir's carries the test's name).
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "wat-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func chown(t *testing.T, path string, uid int) {
	t.Helper()
	if err := os.Lchown(path, uid, uid); err != nil {
		t.Fatal(err)
	}
}

func chmod(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// TestMain lets the test binary act as a listener run by another user
// (runSpyListener), for TestHookChecksWhoListens.
func TestMain(m *testing.M) {
	if path := os.Getenv("WEAVE_AGENTD_TEST_SPY"); path != "" {
		runSpyListener(path)
		return
	}
	os.Exit(m.Run())
}

// runSpyListener listens on path and reports, on stdout, what each
// connection sent (until EOF), in order.
func runSpyListener(path string) {
	ln, err := net.Listen("unix", path)
	if err != nil {
		os.Stdout.WriteString("error " + err.Error() + "\n")
		os.Exit(1)
	}
	os.Stdout.WriteString("ready\n")
	for {
		c, err := ln.Accept()
		if err != nil {
			os.Exit(1)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, _ := io.ReadAll(c)
		c.Close()
		os.Stdout.WriteString("conn " + strconv.Quote(string(b)) + "\n")
	}
}

// The file checks can be raced: a socket swapped in between the lstat and
// the connect. The hook also asks the kernel who listens (SO_PEERCRED) and
// sends nothing to a listener of another user, even on a socket that
// passes the file checks.
func TestHookChecksWhoListens(t *testing.T) {
	needRoot(t)
	if runtime.GOOS != "linux" {
		t.Skip("peer credentials are read on Linux only")
	}
	// The test binary, where the other user can run it.
	binDir := shortTempDir(t)
	chmod(t, binDir, 0o755)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(binDir, "hooks.test")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(shortTempDir(t), "weave-agentd-0")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	chmod(t, filepath.Dir(dir), 0o755)
	chown(t, dir, otherUID)
	sock := filepath.Join(dir, "agentd.sock")

	cmd := exec.Command(bin)
	cmd.Env = []string{"WEAVE_AGENTD_TEST_SPY=" + sock}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: otherUID, Gid: otherUID}}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := bufio.NewScanner(out)
	if !lines.Scan() || lines.Text() != "ready" {
		t.Fatalf("spy: %q %v", lines.Text(), lines.Err())
	}
	// Now make the files look like ours: only the listener is not.
	chown(t, sock, os.Getuid())
	chown(t, dir, os.Getuid())
	chmod(t, sock, 0o600)
	if err := CheckSocket(sock); err != nil {
		t.Fatalf("the files should pass the checks now: %v", err)
	}

	state := filepath.Join(t.TempDir(), "state")
	paths := Paths{StateDir: state, Socket: sock, Inbox: filepath.Join(state, "inbox.jsonl")}
	send(paths, time.Second, &Event{ID: "ev1", Session: "s1", Payload: json.RawMessage(`{"session_id":"s1","prompt":"secret"}`)})
	_, err = Call(sock, time.Second, &Request{Op: OpStatus})
	if ue, ok := errors.AsType[*UntrustedError](err); !ok || ue.Kind != "daemon" || ue.UID != otherUID {
		t.Errorf("Call: %v, want the daemon untrusted (uid %d)", err, otherUID)
	}
	if ids := inboxIDs(t, paths.Inbox); len(ids) != 1 || ids[0] != "ev1" {
		t.Fatalf("inbox ids = %v, want [ev1]", ids)
	}
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("sentinel"))
	c.Close()
	for lines.Scan() {
		switch line := lines.Text(); line {
		case `conn "sentinel"`:
			return
		case `conn ""`: // connected, sent nothing
		default:
			t.Fatalf("the other user's listener received: %.100s", line)
		}
	}
	t.Fatalf("the spy ended: %v", lines.Err())
}
