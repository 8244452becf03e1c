package cursor

import (
	"os"
	"path/filepath"
	"strings"
)

// slug is Cursor's project directory name for a workspace path: runs of
// characters other than letters and digits become "-", and leading and
// trailing "-" are trimmed (/Users/me/dp-2.0 → Users-me-dp-2-0).
func slug(path string) string {
	var sb strings.Builder
	dash := false
	for _, r := range path {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			sb.WriteRune(r)
			dash = false
			continue
		}
		if !dash {
			sb.WriteByte('-')
			dash = true
		}
	}
	return strings.Trim(sb.String(), "-")
}

// safeID reports whether a conversation id can be used as a file name.
func safeID(id string) bool {
	return id != "" && id != "." && id != ".." && !strings.ContainsAny(id, `/\`+"\x00")
}

// transcriptIn returns the conversation's transcript in one
// agent-transcripts directory, trying its layouts newest first.
func transcriptIn(dir, id string) string {
	for _, p := range []string{
		filepath.Join(dir, id, id+".jsonl"), // IDE and cursor-agent 2026.10
		filepath.Join(dir, id+".jsonl"),     // early CLI
		filepath.Join(dir, id+".txt"),       // before ~Feb 2026
	} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// discover looks for the transcript under CursorHome when no hook named it:
// in the project directories of the workspace roots, and with all in every
// project directory.
func (b *Builder) discover(all bool) {
	if b.st.Main != "" || b.opts.CursorHome == "" || !safeID(b.conv) {
		return
	}
	projects := filepath.Join(b.opts.CursorHome, "projects")
	tried := map[string]bool{}
	for _, r := range b.st.Sess.Roots {
		s := slug(r)
		if s == "" {
			continue
		}
		dir := filepath.Join(projects, s, "agent-transcripts")
		tried[dir] = true
		if p := transcriptIn(dir, b.conv); p != "" {
			b.st.Main = p
			return
		}
	}
	if !all {
		return
	}
	entries, err := os.ReadDir(projects)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(projects, e.Name(), "agent-transcripts")
		if tried[dir] {
			continue
		}
		if p := transcriptIn(dir, b.conv); p != "" {
			b.st.Main = p
			return
		}
	}
}
