package transcript

import "strings"

// HomeVars are the environment variables that move an agent's Home
// (CLAUDE_CONFIG_DIR, CODEX_HOME): those its Home asks for.
func HomeVars(a Agent) []string {
	var vars []string
	a.Home(func(k string) string {
		vars = append(vars, k)
		return ""
	}, "~")
	return vars
}

// HomeHint is where an agent keeps its files, for people:
// "~/.claude (or $CLAUDE_CONFIG_DIR)".
func HomeHint(a Agent) string {
	h := a.Home(func(string) string { return "" }, "~")
	if vars := HomeVars(a); len(vars) > 0 {
		h += " (or $" + strings.Join(vars, ", $") + ")"
	}
	return h
}
