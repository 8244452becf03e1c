package transcript

import (
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/weave-agentd/weave-agentd/genai"
)

// The agents, registered by their packages (as database/sql drivers are):
// each agent package calls Register from its init, and transcript/agents
// imports every agent package, one line each.
var registry struct {
	sync.RWMutex
	agents []Agent // sorted by name
}

// Register makes an agent known. It panics when the name is taken, as
// sql.Register does: two packages claiming one agent is a build mistake.
func Register(a Agent) {
	registry.Lock()
	defer registry.Unlock()
	if slices.ContainsFunc(registry.agents, func(b Agent) bool { return b.Name() == a.Name() }) {
		panic("transcript: agent " + a.Name() + " registered twice")
	}
	registry.agents = append(registry.agents, a)
	slices.SortFunc(registry.agents, func(a, b Agent) int { return strings.Compare(a.Name(), b.Name()) })
}

// Agents returns the registered agents, sorted by name.
func Agents() []Agent {
	registry.RLock()
	defer registry.RUnlock()
	return slices.Clone(registry.agents)
}

// AgentByName returns the agent named name (genai.AgentClaudeCode …).
func AgentByName(name string) (Agent, bool) {
	for _, a := range Agents() {
		if a.Name() == name {
			return a, true
		}
	}
	return nil, false
}

// AgentNamed returns the agent a user or the hook client names: by its
// Name or one of its Aliases, in any case.
func AgentNamed(s string) (Agent, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	for _, a := range Agents() {
		if a.Name() == s || slices.Contains(a.Aliases(), s) {
			return a, true
		}
	}
	return nil, false
}

// AgentHomes maps each agent's name to its home folder.
func AgentHomes(getenv func(string) string, userHome string) map[string]string {
	m := map[string]string{}
	for _, a := range Agents() {
		m[a.Name()] = a.Home(getenv, userHome)
	}
	return m
}

// fallbackAgent owns a transcript that no agent claims by its home or its
// layout: Claude Code, whose transcripts are plain <session>.jsonl files,
// the kind a user copies elsewhere (as before agents were registered).
const fallbackAgent = genai.AgentClaudeCode

// AgentForPath returns the agent a transcript path (or a folder of them)
// belongs to: the agent whose home holds it, else the one whose layout it
// has (Owns), else Claude Code. nil when that one is not registered either.
func AgentForPath(path string, homes map[string]string) Agent {
	path = filepath.Clean(path)
	all := Agents()
	for _, a := range all {
		if h := homes[a.Name()]; h != "" && within(path, filepath.Clean(h)) {
			return a
		}
	}
	for _, a := range all {
		if a.Owns(path) {
			return a
		}
	}
	a, _ := AgentByName(fallbackAgent)
	return a
}

func within(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, dir+string(filepath.Separator))
}
