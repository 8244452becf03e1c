package transcript

// HomeVars are the environment variables that move an agent's Home
// (CLAUDE_CONFIG_DIR, CODEX_HOME): those its Home asks for, so hints name
// them without a list kept by hand.
func HomeVars(a Agent) []string {
	var vars []string
	a.Home(func(k string) string {
		vars = append(vars, k)
		return ""
	}, "~")
	return vars
}
