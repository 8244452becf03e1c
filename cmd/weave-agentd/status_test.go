package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/weave-agentd/weave-agentd/control"
)

// A skipped transcript path comes from a hook payload: status printed it
// raw, so an escape sequence in it wrote into the user's terminal, a NUL
// showed as nothing, and a 10 KB path filled the screen.
func TestStatusShowsSkippedPathsSafely(t *testing.T) {
	st := &control.Status{SkippedFiles: []control.SkippedFile{
		{Path: "/tmp/\x1b]0;owned\x07\x1b[2J.jsonl", Reason: "a FIFO, not a regular file"},
		{Path: "/tmp/a\x00b.jsonl", Reason: "cannot be opened: invalid argument"},
		{Path: "/" + strings.Repeat("a/", 5000), Reason: "cannot be opened: file name too long"},
		{Path: "/home/me/ok.jsonl", Reason: "a folder, not a regular file"},
	}}
	var out bytes.Buffer
	printStatus(&out, st)
	s := out.String()
	if strings.ContainsAny(s, "\x1b\x07\x00") {
		t.Errorf("status prints control characters from a path: %q", s)
	}
	for _, l := range strings.Split(s, "\n") {
		if len(l) > 400 {
			t.Errorf("a status line of %d bytes: %.80q…", len(l), l)
		}
	}
	if !strings.Contains(s, `"/tmp/a\x00b.jsonl"`) || !strings.Contains(s, "skipped:    /home/me/ok.jsonl: a folder") {
		t.Errorf("status:\n%s", s)
	}
}
