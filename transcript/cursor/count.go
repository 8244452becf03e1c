package cursor

import (
	"bytes"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/weave-agentd/weave-agentd/transcript"
)

// Project is the <slug> folder above agent-transcripts: the workspace path
// with its separators replaced (no line records the real one), so only a
// folder's name; "" for a transcript elsewhere.
func (Agent) Project(path string) string {
	p := filepath.ToSlash(path)
	i := strings.Index(p, "/agent-transcripts/")
	if i < 0 {
		return ""
	}
	return filepath.Base(p[:i])
}

// Count counts prompts and tool calls, for sessions (a transcript has no
// timestamps, ids or token usage to replay): JSONL lines
// ({"role":"user",…<user_query>…}, tool_use blocks) or the old text format
// ("user:" blocks, "[Tool call] Name").
func (Agent) Count(line []byte, c *transcript.Counts) {
	t := bytes.TrimSpace(line)
	if len(t) == 0 {
		return
	}
	if t[0] == '{' {
		switch {
		case bytes.Contains(t, []byte(`"role":"user"`)) && bytes.Contains(t, []byte("<user_query>")):
			c.Turns++
			if c.Started.IsZero() {
				c.Started = queryTime(t)
			}
		case bytes.Contains(t, []byte(`"role":"assistant"`)):
			c.ToolCalls += bytes.Count(t, []byte(`"type":"tool_use"`))
		case bytes.Contains(t, []byte(`"type":"turn_ended"`)) && !bytes.Contains(t, []byte(`"status":"success"`)):
			c.FailedTurns++
		}
		return
	}
	switch {
	case bytes.Equal(t, []byte("user:")):
		c.Turns++
	case bytes.HasPrefix(t, []byte("[Tool call]")):
		c.ToolCalls++
	}
}

// queryTime parses the minute-precision time Cursor puts before a query:
// <timestamp>Monday, Aug 24, 2026, 3:01 PM (UTC-5)</timestamp>.
func queryTime(line []byte) time.Time {
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
