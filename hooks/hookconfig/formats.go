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
	// Timeout is the handler timeout written when the Spec names none, in
	// seconds; 0: DefaultTimeout. (Codex CLI clamps a SessionEnd handler to
	// 3 s and says so on every run.)
	Timeout int
	// Arg follows the hook binary in the command: the agent's name, for an
	// agent whose payloads the hook client cannot tell apart by their shape
	// (Gemini CLI's and Codex CLI's look like Claude Code's).
	Arg string
	// TimeoutMillis: the agent reads handler timeouts in milliseconds
	// (Gemini CLI), not seconds.
	TimeoutMillis bool
	// Version asks the installed agent for its version, when its events
	// depend on it (Events is then given it); nil: Events is given the
	// zero Version (its default events).
	Version *VersionProbe
}

// VersionProbe is how to ask an installed agent for its version.
type VersionProbe struct {
	// Args run it: the command, found on PATH ("claude"), and what makes
	// it print its version ("--version"), read by ParseVersion.
	Args []string
	// Installs are other paths of its binary, off PATH as some of its
	// installers leave it, given the agent's home and the user's home.
	Installs func(agentHome, userHome string) []string
	// Older says why an older version gets fewer events, for people
	// ("older versions ignore a settings file with an unknown event").
	Older string
}

func (a Agent) String() string { return a.Name }

// The agents whose hook settings we know.
var (
	Claude = Agent{Name: "claude", File: "settings.json", Project: filepath.Join(".claude", "settings.local.json"),
		Events: ClaudeEvents, Known: AllClaudeEvents(), Tools: claudeToolEvents,
		Version: &VersionProbe{Args: []string{"claude", "--version"},
			Installs: func(agentHome, userHome string) []string {
				return []string{
					filepath.Join(agentHome, "local", "claude"),        // the old "local" installer
					filepath.Join(userHome, ".local", "bin", "claude"), // the native installer
				}
			},
			Older: "older versions ignore a settings file with an unknown event"}}
	Cursor = Agent{Name: "cursor", File: "hooks.json", Project: filepath.Join(".cursor", "hooks.json"), Flat: true,
		Events: func(Version) ([]string, error) { return CursorEvents(), nil }, Known: cursorEvents}
	// Codex is Codex CLI: $CODEX_HOME/hooks.json (or <repo>/.codex/hooks.json),
	// shaped like Claude Code's settings (matcher groups, timeouts in
	// seconds), without a version gate (every event below is in 0.171.0).
	Codex = Agent{Name: "codex", File: "hooks.json", Project: filepath.Join(".codex", "hooks.json"),
		Events: func(Version) ([]string, error) { return CodexEvents(), nil }, Known: codexEvents,
		Tools: codexToolEvents, Timeout: codexTimeout, Arg: "codex"}
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
		return spec.timeout(a) * 1000
	}
	return spec.timeout(a)
}

// checkAgent refuses an Agent that says too little to edit its settings
// (the zero value of an agent without hooks).
func checkAgent(agent Agent) (Agent, error) {
	if agent.Name == "" || agent.File == "" || agent.Events == nil {
		return agent, errors.New("no hook settings for this agent")
	}
	return agent, nil
}
