package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/weave-agentd/weave-agentd/transcript"
)

// style colours pieces of text; without colour every function returns its
// input unchanged.
type style struct {
	bold, dim, red, rule, prompt, promptText, thinking func(string) string
	tool, toolName, agent, compaction, removed, added  func(string) string
}

func styles(color bool) style {
	if !color {
		id := func(s string) string { return s }
		return style{id, id, id, id, id, id, id, id, id, id, id, id, id}
	}
	sgr := func(codes string) func(string) string {
		return func(s string) string {
			if s == "" {
				return s
			}
			return "\x1b[" + codes + "m" + s + "\x1b[0m"
		}
	}
	return style{
		bold:       sgr("1"),
		dim:        sgr("2"),
		red:        sgr("31"),
		rule:       sgr("1;34"),
		prompt:     sgr("1;32"),
		promptText: sgr("1"),
		thinking:   sgr("2;3"),
		tool:       sgr("36"),
		toolName:   sgr("1;36"),
		agent:      sgr("35"),
		compaction: sgr("33"),
		removed:    sgr("31"),
		added:      sgr("32"),
	}
}

// fmtDur prints a duration the way people read it: 850ms, 4.2s, 3m05s,
// 1h02m.
func fmtDur(d time.Duration) string {
	switch {
	case d < 0:
		return "0ms"
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
}

// fmtInt prints 1234567 as 1,234,567.
func fmtInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func fmtUsage(st style, u usage) string {
	s := fmtInt(u.in) + " in"
	if u.in > 0 || u.cacheRead > 0 || u.cacheWrite > 0 {
		// Zeros too: a turn without cache reads is worth seeing.
		s += st.dim(" (" + fmtInt(u.cacheRead) + " cache read, " + fmtInt(u.cacheWrite) + " cache write)")
	}
	return s + st.dim(" · ") + fmtInt(u.out) + " out"
}

func fmtBytes(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func runeLen(s string) int { return utf8.RuneCountInString(s) }

// oneLine is the first non-empty line of s, cleaned, cut to max runes.
func oneLine(s string, max int) string {
	lines := cleanLines(s)
	if len(lines) == 0 {
		return ""
	}
	l := strings.TrimSpace(lines[0])
	if len(lines) > 1 {
		l += " …"
	}
	if r := []rune(l); len(r) > max {
		l = string(r[:max-1]) + "…"
	}
	return l
}

// cleanLines splits text into lines with terminal escape sequences and
// other control characters removed (a transcript must not drive the
// terminal), tabs expanded, trailing spaces and surrounding blank lines
// dropped.
func cleanLines(text string) []string {
	text = stripControls(text)
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(strings.ReplaceAll(l, "\t", "    "), " \r")
	}
	for len(lines) > 0 && strings.TrimSpace(lines[0]) == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// stripControls removes ANSI escape sequences (CSI, OSC) and C0/C1 control
// characters except newline and tab.
func stripControls(s string) string {
	clean := true
	for _, r := range s {
		if (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == 0x1b && i+1 < len(rs) && rs[i+1] == '[': // CSI … final byte
			i += 2
			for i < len(rs) && (rs[i] < 0x40 || rs[i] > 0x7e) {
				i++
			}
		case r == 0x1b && i+1 < len(rs) && rs[i+1] == ']': // OSC … BEL or ST
			i += 2
			for i < len(rs) && rs[i] != 0x07 && !(rs[i] == 0x1b && i+1 < len(rs) && rs[i+1] == '\\') {
				i++
			}
			if i < len(rs) && rs[i] == 0x1b {
				i++
			}
		case r == 0x1b:
			i++ // a two-character escape
		case r == '\r' && i+1 < len(rs) && rs[i+1] == '\n':
		case r == '\r':
			b.WriteByte('\n')
		case (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || (r >= 0x80 && r < 0xa0):
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// field is one argument of a tool call, in the order the model wrote it.
type field struct {
	key  string
	text string // a string value as is, anything else as compact JSON
}

// objectFields decodes a JSON object's fields in order; nil when raw is not
// an object.
func objectFields(raw string) []field {
	raw = strings.TrimSpace(raw)
	if !strings.HasPrefix(raw, "{") {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	fields := []field{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		key, ok := tok.(string)
		if !ok {
			return nil
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil
		}
		var s string
		if json.Unmarshal(v, &s) == nil {
			fields = append(fields, field{key, s})
			continue
		}
		var buf bytes.Buffer
		if json.Compact(&buf, v) == nil {
			v = buf.Bytes()
		}
		fields = append(fields, field{key, string(v)})
	}
	return fields
}

// mainArg picks the argument shown in a tool call's header: the command,
// file, pattern, URL or description, depending on the tool.
func mainArg(tool string, fields []field) (key, value string) {
	prefs := []string{"command", "file_path", "notebook_path", "pattern", "glob_pattern", "path", "url", "query", "description", "prompt", "skill", "target_directory"}
	switch tool {
	case "Agent", "Task":
		prefs = []string{"description", "subagent_type", "prompt"}
	case "Grep":
		prefs = []string{"pattern", "path"}
	case "Skill":
		prefs = []string{"skill", "command"}
	}
	get := func(k string) (string, bool) {
		for _, f := range fields {
			if f.key == k && f.text != "" && !strings.HasPrefix(f.text, "{") && !strings.HasPrefix(f.text, "[") {
				return f.text, true
			}
		}
		return "", false
	}
	for _, k := range prefs {
		if v, ok := get(k); ok {
			return k, v
		}
	}
	return "", ""
}

// displayToolName shows an MCP tool (mcp__server__tool) as server:tool.
func displayToolName(name string) string {
	if rest, ok := strings.CutPrefix(name, "mcp__"); ok {
		if i := strings.Index(rest, "__"); i > 0 {
			return rest[:i] + ":" + rest[i+2:]
		}
	}
	if name == "" {
		return "tool"
	}
	return name
}

// promptText undoes the wrappers Claude Code and Cursor put around what
// the user typed: a slash command (<command-name>/x</command-name>
// <command-args>…</command-args>) becomes "/x …" as in the spans
// (transcript.ReadablePrompt; spans built before it still carry the markup),
// a Cursor query (<user_query>…</user_query>, after a <timestamp>) its text.
func promptText(text string) string {
	if r := transcript.ReadablePrompt(text); r != text {
		return r
	}
	if q, ok := between(text, "<user_query>", "</user_query>"); ok {
		return strings.TrimSpace(q)
	}
	return text
}

// notification is a Claude Code <task-notification> prompt (a background
// task or subagent finished).
type notification struct {
	head   string // "background task completed: <summary>"
	result string
	rest   string // text after the notification
}

func taskNotification(text string) (notification, bool) {
	t := strings.TrimSpace(text)
	if !strings.HasPrefix(t, "<task-notification>") {
		return notification{}, false
	}
	end := strings.Index(t, "</task-notification>")
	if end < 0 {
		return notification{}, false
	}
	body := t[:end]
	var n notification
	summary, _ := between(body, "<summary>", "</summary>")
	status, _ := between(body, "<status>", "</status>")
	n.head = "task notification"
	if status != "" {
		n.head += " (" + strings.TrimSpace(status) + ")"
	}
	if summary != "" {
		n.head += ": " + strings.TrimSpace(summary)
	}
	n.result, _ = between(body, "<result>", "</result>")
	n.result = strings.TrimSpace(n.result)
	n.rest = strings.TrimSpace(t[end+len("</task-notification>"):])
	return n, true
}

// between returns the text between the first open and the next close.
func between(s, open, close string) (string, bool) {
	i := strings.Index(s, open)
	if i < 0 {
		return "", false
	}
	rest := s[i+len(open):]
	j := strings.Index(rest, close)
	if j < 0 {
		return "", false
	}
	return rest[:j], true
}
