package hookconfig

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// hookFormat is how one agent keeps its hook settings.
type hookFormat struct {
	file    string // the user's settings, in the agent's home folder
	project string // a project's (personal, not committed), in the project folder
	// flat: each event holds a list of handlers (Cursor's hooks.json, which
	// starts with "version": 1); else a list of matcher groups holding the
	// handlers (Claude Code's settings.json).
	flat bool
	// events are the events registered by default, for the agent's
	// version (zero: unknown).
	events func(Version) ([]string, error)
	known  []string        // every event we may register
	tools  map[string]bool // the events that take a tool-name matcher: we match every tool
}

// formats are the agents' hook settings, by the agent's name in the hook
// command and on the command line.
var formats = map[Agent]hookFormat{
	Claude: {file: "settings.json", project: filepath.Join(".claude", "settings.local.json"),
		events: ClaudeEvents, known: AllClaudeEvents(), tools: claudeToolEvents},
	Cursor: {file: "hooks.json", project: filepath.Join(".cursor", "hooks.json"), flat: true,
		events: func(Version) ([]string, error) { return CursorEvents(), nil }, known: cursorEvents},
}

func hookFormatOf(agent Agent) (hookFormat, error) {
	f, ok := formats[agent]
	if !ok {
		var names []string
		for a := range formats {
			names = append(names, string(a))
		}
		slices.Sort(names)
		want := strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
		return hookFormat{}, fmt.Errorf("unknown agent %q (want %s)", agent, want)
	}
	return f, nil
}
