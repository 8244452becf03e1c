// Package agents is the registry of the supported coding agents: one line
// per agent in All. Everything that needs to know the agents (the daemon's
// discovery and backfill, the catalog, the CLI) ranges over All.
package agents

import (
	"path/filepath"
	"strings"

	"github.com/weave-agentd/weave-agentd/transcript"
	"github.com/weave-agentd/weave-agentd/transcript/claude"
	"github.com/weave-agentd/weave-agentd/transcript/cursor"
)

// all lists the agents, in the order they are searched; the first is the
// one a transcript no agent claims is taken to be.
var all = []transcript.Agent{
	claude.Agent{},
	cursor.Agent{},
}

// All returns every supported agent.
func All() []transcript.Agent { return all }

// ByName returns the agent named name (genai.AgentClaudeCode …).
func ByName(name string) (transcript.Agent, bool) {
	for _, a := range all {
		if a.Name() == name {
			return a, true
		}
	}
	return nil, false
}

// Homes maps each agent's name to its home folder.
func Homes(getenv func(string) string, userHome string) map[string]string {
	m := make(map[string]string, len(all))
	for _, a := range all {
		m[a.Name()] = a.Home(getenv, userHome)
	}
	return m
}

// ForPath returns the agent a transcript path (or a folder of them)
// belongs to: the agent whose home holds it, else the one whose layout it
// has (Owns), else the first agent.
func ForPath(path string, homes map[string]string) transcript.Agent {
	path = filepath.Clean(path)
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
	return all[0]
}

func within(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, dir+string(filepath.Separator))
}
