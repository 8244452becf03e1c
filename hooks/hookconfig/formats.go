package hookconfig

import (
	"errors"
	"path/filepath"
)

// Agent is how one coding agent keeps its hook settings. Its package names
// it (transcript.Agent.HookConfig): Claude and Cursor here, or a value of
// its own.
type Agent struct {
	// Name is the agent's name in the hook command, in messages and on
	// the command line ("claude"); "" for an agent we register no hooks for.
	Name    string
	File    string // the user's settings, in the agent's home folder
	Project string // a project's (personal, not committed), in the project folder
	// Flat: each event holds a list of handlers (Cursor's hooks.json, which
	// starts with "version": 1); else a list of matcher groups holding the
	// handlers (Claude Code's settings.json).
	Flat bool
	// Events are the events registered by default, for the agent's
	// version (zero: unknown).
	Events func(Version) ([]string, error)
	Known  []string        // every event we may register
	Tools  map[string]bool // the events that take a tool-name matcher: we match every tool
	// Arg follows the hook binary in the command: the agent's name, for an
	// agent whose payloads the hook client cannot tell apart by their shape
	// (Gemini CLI's look like Claude Code's).
	Arg string
	// TimeoutMillis: the agent reads handler timeouts in milliseconds
	// (Gemini CLI), not seconds.
	TimeoutMillis bool
}

func (a Agent) String() string { return a.Name }

// The agents whose hook settings we know.
var (
	Claude = Agent{Name: "claude", File: "settings.json", Project: filepath.Join(".claude", "settings.local.json"),
		Events: ClaudeEvents, Known: AllClaudeEvents(), Tools: claudeToolEvents}
	Cursor = Agent{Name: "cursor", File: "hooks.json", Project: filepath.Join(".cursor", "hooks.json"), Flat: true,
		Events: func(Version) ([]string, error) { return CursorEvents(), nil }, Known: cursorEvents}
	// Gemini = Gemini CLI's settings.json (hooks on by default): Claude
	// Code's matcher groups, timeouts in milliseconds.
	Gemini = Agent{Name: "gemini", File: "settings.json", Project: filepath.Join(".gemini", "settings.json"),
		Events: func(Version) ([]string, error) { return GeminiEvents(), nil }, Known: geminiEvents,
		Tools: geminiToolEvents, Arg: "gemini", TimeoutMillis: true}
)

// command is the handler command for spec: Command, then the agent's Arg.
func (a Agent) command(spec Spec) string {
	c := Command(spec)
	if a.Arg != "" {
		c += " " + a.Arg
	}
	return c
}

// timeout is spec's timeout in the agent's unit.
func (a Agent) timeout(spec Spec) int {
	if a.TimeoutMillis {
		return spec.timeout() * 1000
	}
	return spec.timeout()
}

// checkAgent refuses an Agent that says too little to edit its settings
// (the zero value of an agent without hooks).
func checkAgent(agent Agent) (Agent, error) {
	if agent.Name == "" || agent.File == "" || agent.Events == nil {
		return agent, errors.New("no hook settings for this agent")
	}
	return agent, nil
}
