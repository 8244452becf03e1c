package catalog

import (
	"bytes"
	"cmp"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/weave-agentd/weave-agentd/transcript/cursor"
)

// cursorSource: <CursorHome>/projects/<slug>/agent-transcripts/ holding
// <id>/<id>.jsonl (2026.10 and the IDE), <id>.jsonl (early CLI) or <id>.txt
// (before Feb 2026). Subagent transcripts (<id>/subagents/) are not listed.
//
// Cursor transcripts have no timestamps, ids or token usage (the daemon
// builds Cursor traces from hook events), so conversations are listed and
// counted by a light scan but not replayed. When transcript/cursor can
// rebuild spans from a transcript alone, set renderable.
func cursorSource() source {
	return source{
		agent: cursor.Agent{},
		home:  func(o Options) string { return cmp.Or(o.CursorHome, o.Homes[cursor.Agent{}.Name()]) },
		owns: func(o Options, path string) bool {
			p := filepath.ToSlash(path)
			if strings.Contains(p, "/agent-transcripts/") {
				return true
			}
			return o.CursorHome != "" && strings.HasPrefix(path, filepath.Clean(o.CursorHome)+string(os.PathSeparator))
		},
		session: func(path string) string {
			return strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		},
		scan: scanCursorLine,
		projectOf: func(f File) string {
			// …/projects/<slug>/agent-transcripts/…: the slug is the
			// workspace path with its separators replaced; no line records
			// the real one.
			p := filepath.ToSlash(f.Path)
			i := strings.Index(p, "/agent-transcripts/")
			if i < 0 {
				return ""
			}
			return filepath.Base(p[:i])
		},
	}
}

// scanCursorLine counts prompts and tool calls: JSONL lines
// ({"role":"user",…<user_query>…}, tool_use blocks) or the old text format
// ("user:" blocks, "[Tool call] Name").
func scanCursorLine(line []byte, s *Summary) {
	t := bytes.TrimSpace(line)
	if len(t) == 0 {
		return
	}
	if t[0] == '{' {
		switch {
		case bytes.Contains(t, []byte(`"role":"user"`)) && bytes.Contains(t, []byte("<user_query>")):
			s.Turns++
			if s.Started.IsZero() {
				s.Started = cursorTimestamp(t)
			}
		case bytes.Contains(t, []byte(`"role":"assistant"`)):
			s.ToolCalls += bytes.Count(t, []byte(`"type":"tool_use"`))
		case bytes.Contains(t, []byte(`"type":"turn_ended"`)) && !bytes.Contains(t, []byte(`"status":"success"`)):
			s.FailedTurns++
		}
		return
	}
	switch {
	case bytes.Equal(t, []byte("user:")):
		s.Turns++
	case bytes.HasPrefix(t, []byte("[Tool call]")):
		s.ToolCalls++
	}
}

// cursorTimestamp parses the minute-precision time Cursor puts before a
// query: <timestamp>Monday, Aug 24, 2026, 3:01 PM (UTC-5)</timestamp>.
func cursorTimestamp(line []byte) time.Time {
	i := bytes.Index(line, []byte("<timestamp>"))
	if i < 0 {
		return time.Time{}
	}
	rest := line[i+len("<timestamp>"):]
	j := bytes.Index(rest, []byte("</timestamp>"))
	if j < 0 {
		return time.Time{}
	}
	v := string(rest[:j])
	if k := strings.IndexByte(v, ','); k >= 0 { // the weekday
		v = strings.TrimSpace(v[k+1:])
	}
	loc := time.UTC
	if k := strings.LastIndex(v, "("); k >= 0 && strings.HasSuffix(v, ")") {
		zone := strings.TrimSpace(strings.TrimPrefix(v[k+1:len(v)-1], "UTC"))
		v = strings.TrimSpace(v[:k])
		if zone != "" {
			sign := 1
			switch zone[0] {
			case '-':
				sign = -1
				zone = zone[1:]
			case '+':
				zone = zone[1:]
			}
			h, m, _ := strings.Cut(zone, ":")
			hh, err1 := strconv.Atoi(h)
			mm := 0
			var err2 error
			if m != "" {
				mm, err2 = strconv.Atoi(m)
			}
			if err1 != nil || err2 != nil {
				return time.Time{}
			}
			loc = time.FixedZone("UTC"+zone, sign*(hh*3600+mm*60))
		}
	}
	t, err := time.ParseInLocation("Jan 2, 2006, 3:04 PM", v, loc)
	if err != nil {
		return time.Time{}
	}
	return t
}
