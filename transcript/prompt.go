package transcript

import "strings"

// ReadablePrompt returns a prompt as the user typed it. Claude Code wraps a
// slash command in markup (the prompt starts with it):
//
//	<command-name>/compact</command-name>
//	<command-message>compact</command-message>
//	<command-args>focus on tests</command-args>
//
// which becomes "/compact focus on tests" (any text outside the markup
// follows on the next line); a local command's output
// (<local-command-stdout>…</local-command-stdout>, or -stderr) becomes its
// text. Anything else, a <task-notification> included, is returned as it is.
func ReadablePrompt(s string) string {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "<task-notification>") {
		return s
	}
	wrapped := strings.HasPrefix(t, "<command-name>") || strings.HasPrefix(t, "<command-message>")
	if name, rest, ok := cutElement(t, "command-name"); ok && wrapped {
		_, rest, _ = cutElement(rest, "command-message")
		args, rest, _ := cutElement(rest, "command-args")
		line := strings.TrimSpace(name)
		if !strings.HasPrefix(line, "/") {
			line = "/" + line
		}
		if args = strings.TrimSpace(args); args != "" {
			line += " " + args
		}
		if rest = strings.TrimSpace(rest); rest != "" {
			line += "\n" + rest
		}
		return line
	}
	for _, tag := range []string{"local-command-stdout", "local-command-stderr"} {
		if out, rest, ok := cutElement(t, tag); ok && strings.HasPrefix(t, "<"+tag+">") {
			if rest = strings.TrimSpace(rest); rest != "" {
				out += "\n" + rest
			}
			return strings.TrimSpace(out)
		}
	}
	return s
}

// cutElement finds the first <tag>…</tag> in s: its inner text, and s
// without the element.
func cutElement(s, tag string) (inner, rest string, ok bool) {
	open, end := "<"+tag+">", "</"+tag+">"
	i := strings.Index(s, open)
	if i < 0 {
		return "", s, false
	}
	j := strings.Index(s[i+len(open):], end)
	if j < 0 {
		return "", s, false
	}
	inner = s[i+len(open) : i+len(open)+j]
	return inner, s[:i] + s[i+len(open)+j+len(end):], true
}
