package gemini

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestSessionAndProject: the session id comes from the header line (the
// file name holds 8 characters of it), the project from .project_root or
// the folder name; a FIFO, a file without header or a huge first line give
// the file name, without blocking or reading it all.
func TestSessionAndProject(t *testing.T) {
	home := t.TempDir()
	dir := filepath.Join(home, "tmp", "work-p", "chats")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("session-2026-12-05T14-02-253ce1a9.jsonl",
		`{"sessionId":"253ce1a9-8a9c-4cfe-8ebd-f86b09cf40bd","projectHash":"x","kind":"main"}`+"\n"+`{"$set":{}}`+"\n")
	noHeader := write("session-2026-12-05T14-03-aaaaaaaa.jsonl", `{"$set":{}}`+"\n")
	empty := write("session-2026-12-05T14-06-dddddddd.jsonl", "")
	partial := write("session-2026-12-05T14-07-eeeeeeee.jsonl", `{"sessionId":"eeee`)
	huge := write("session-2026-12-05T14-04-bbbbbbbb.jsonl", `{"sessionId":"`+strings.Repeat("x", 2*maxHeader)+`"}`+"\n")
	fifo := filepath.Join(dir, "session-2026-12-05T14-05-cccccccc.jsonl")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	a := Agent{}
	for path, want := range map[string]string{
		good:     "253ce1a9-8a9c-4cfe-8ebd-f86b09cf40bd",
		noHeader: "session-2026-12-05T14-03-aaaaaaaa",
		huge:     "session-2026-12-05T14-04-bbbbbbbb",
		fifo:     "session-2026-12-05T14-05-cccccccc",
		empty:    "", // not written yet: looked at again when it changes
		partial:  "",
	} {
		if got := a.Session(path); got != want {
			t.Errorf("Session(%s) = %q, want %q", filepath.Base(path), got, want)
		}
	}
	if got := a.Project(good); got != "work-p" {
		t.Errorf("project without .project_root: %q", got)
	}
	if err := os.WriteFile(filepath.Join(home, "tmp", "work-p", ".project_root"), []byte("/home/dev/work/p\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := a.Project(good); got != "/home/dev/work/p" {
		t.Errorf("project: %q", got)
	}
	if !a.IsSession(good) || a.IsSession(filepath.Join(home, "tmp", "work-p", "logs.jsonl")) || a.IsSession(filepath.Join(dir, "session-x.json")) {
		t.Error("IsSession")
	}
}
