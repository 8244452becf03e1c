package sessions

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readAll(t *testing.T, tl *tailer) []string {
	t.Helper()
	var got []string
	for {
		_, eof, err := tl.read(1<<20, func(l []byte, _ int64) { got = append(got, string(l)) })
		if err != nil {
			t.Fatal(err)
		}
		if eof {
			return got
		}
	}
}

func TestTailerReadsCompleteLinesOnly(t *testing.T) {
	p := filepath.Join(t.TempDir(), "t.jsonl")
	os.WriteFile(p, []byte("a\nb\r\n\npar"), 0o600)
	tl := &tailer{path: p}
	if got := strings.Join(readAll(t, tl), ","); got != "a,b" {
		t.Fatalf("got %q", got)
	}
	if tl.st.Offset != 6 {
		t.Fatalf("offset %d", tl.st.Offset)
	}
	f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("tial\nc\n")
	f.Close()
	if got := strings.Join(readAll(t, tl), ","); got != "partial,c" {
		t.Fatalf("got %q", got)
	}
}

func TestTailerResumesFromSavedState(t *testing.T) {
	p := filepath.Join(t.TempDir(), "t.jsonl")
	os.WriteFile(p, []byte("a\nb\n"), 0o600)
	tl := &tailer{path: p}
	readAll(t, tl)
	saved := tl.st.encode()
	f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("c\n")
	f.Close()
	tl2 := &tailer{path: p, st: decodeFileState(saved)}
	if got := strings.Join(readAll(t, tl2), ","); got != "c" {
		t.Fatalf("got %q", got)
	}
}

func TestTailerDetectsTruncationAndReplacement(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "t.jsonl")
	os.WriteFile(p, []byte("first line\nsecond line\n"), 0o600)
	tl := &tailer{path: p}
	readAll(t, tl)

	os.WriteFile(p, []byte("x\n"), 0o600) // truncated and rewritten in place
	if got := strings.Join(readAll(t, tl), ","); got != "x" {
		t.Fatalf("after truncation: %q", got)
	}

	q := filepath.Join(dir, "new")
	os.WriteFile(q, []byte("y\nzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz\n"), 0o600)
	os.Rename(q, p) // replaced by another file, longer than the offset
	if got := strings.Join(readAll(t, tl), ","); got != "y,zzzzzzzzzzzzzzzzzzzzzzzzzzzzzz" {
		t.Fatalf("after replacement: %q", got)
	}
	if tl.resets != 2 {
		t.Fatalf("resets = %d", tl.resets)
	}
}

func TestTailerSkipsOversizedLines(t *testing.T) {
	p := filepath.Join(t.TempDir(), "t.jsonl")
	big := strings.Repeat("x", maxLine+10)
	os.WriteFile(p, []byte("a\n"+big+"\nb\n"), 0o600)
	tl := &tailer{path: p}
	if got := strings.Join(readAll(t, tl), ","); got != "a,b" {
		t.Fatalf("got %d bytes", len(got))
	}
	if tl.skipped != 1 {
		t.Fatalf("skipped = %d", tl.skipped)
	}
}

func TestTailerMissingFileIsNotAnError(t *testing.T) {
	tl := &tailer{path: filepath.Join(t.TempDir(), "nope")}
	if got := readAll(t, tl); len(got) != 0 {
		t.Fatal(got)
	}
}
