package claude

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Session: the file name when Claude Code named the file (a session id),
// else the sessionId its lines record (a copy named otherwise), else the
// file name; a FIFO is not read.
func TestSessionOfAFile(t *testing.T) {
	dir := t.TempDir()
	const id = "aaaa1111-0000-4000-8000-000000000001"
	lines := `{"type":"queue-operation","operation":"enqueue"}` + "\n" +
		`{"type":"user","message":{"role":"user","content":"hi"},"cwd":"/x","sessionId":"` + id + `"}` + "\n"
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	other := "bbbb2222-0000-4000-8000-000000000002"
	fifo := filepath.Join(dir, "fifo.jsonl")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		write(other+".jsonl", lines): other,
		write("copy.jsonl", lines):   id,
		write("empty.jsonl", ""):     "empty",
		fifo:                         "fifo",
	} {
		if got := (Agent{}).Session(path); got != want {
			t.Errorf("Session(%s) = %q, want %q", filepath.Base(path), got, want)
		}
	}
}

func TestJSONStringAfter(t *testing.T) {
	for line, want := range map[string]string{
		`{"cwd":"/a/b","x":1}`:                     "/a/b",
		`{"cwd":"C:\\Users\\me \"q\""}`:            `C:\Users\me "q"`,
		`{"content":"say \"cwd\":\"/fake\""}`:      "",
		`{"cwd":"caf\u00e9"}`:                      "café",
		`{"cwd":null}`:                             "",
		`{"cwd":"unterminated`:                     "",
		`{"message":{"x":1},"cwd":"/late"}`:        "/late",
		`{"timestamp":"2026-11-22T05:18:51.139Z"}`: "",
	} {
		if got := jsonStringAfter([]byte(line), `"cwd":"`); got != want {
			t.Errorf("jsonStringAfter(%s) = %q, want %q", line, got, want)
		}
	}
}
