package main

import (
	"flag"
	"path/filepath"
	"strings"

	"github.com/weave-agentd/weave-agentd/hooks/hookconfig"
	"github.com/weave-agentd/weave-agentd/installer"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// hookAgentFlags are the boolean flags that select agents with hooks, one per
// agent named as its hook settings name it (--claude, --cursor …).
type hookAgentFlags map[string]*bool

// register binds one flag per agent with hooks to f, keeping what f
// already holds (a subcommand's flags may be parsed in a second pass).
func (f hookAgentFlags) register(fs *flag.FlagSet, usage func(transcript.Agent) string) {
	for _, a := range installer.HookAgents() {
		name := a.HookConfig().Name
		p, ok := f[name]
		if !ok {
			p = new(bool)
			f[name] = p
		}
		fs.BoolVar(p, name, *p, usage(a))
	}
}

// selected are the agents whose flag is set, by their flag names.
func (f hookAgentFlags) selected() []string {
	var out []string
	for _, a := range installer.HookAgents() {
		if p := f[a.HookConfig().Name]; p != nil && *p {
			out = append(out, a.HookConfig().Name)
		}
	}
	return out
}

// agentFlagsUsage is the flags' synopsis: "[--claude] [--cursor]".
func agentFlagsUsage() string {
	var parts []string
	for _, a := range installer.HookAgents() {
		parts = append(parts, "[--"+a.HookConfig().Name+"]")
	}
	return strings.Join(parts, " ")
}

// hookFile is the agent's hook settings file in a scope: in its home
// ("settings.json") or, for a project, under DIR.
func hookFile(a transcript.Agent, project bool) string {
	if !project {
		p, err := hookconfig.Path(a.HookConfig(), "", "")
		if err != nil {
			return ""
		}
		return filepath.Base(p)
	}
	p, err := hookconfig.Path(a.HookConfig(), "", "/DIR")
	if err != nil {
		return ""
	}
	return strings.TrimPrefix(filepath.ToSlash(p), "/")
}
