package main

import (
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/weave-agentd/weave-agentd/config"
	"github.com/weave-agentd/weave-agentd/daemon"
	"github.com/weave-agentd/weave-agentd/redact"
	"github.com/weave-agentd/weave-agentd/transcript"
	_ "github.com/weave-agentd/weave-agentd/transcript/agents" // every agent
)

// agentHomes maps every agent to its home folder (CLAUDE_CONFIG_DIR …).
func agentHomes(getenv func(string) string) map[string]string {
	return transcript.AgentHomes(getenv, getenv("HOME"))
}

// hookAgents maps the name each agent's hook client sends (its first
// alias, as hooks.AgentClaude) to the agent's name.
func hookAgents() map[string]string {
	m := map[string]string{}
	for _, a := range transcript.Agents() {
		m[a.Aliases()[0]] = a.Name()
	}
	return m
}

// discoverRoots are the transcript folders of the agents whose sessions
// the daemon follows without hooks.
func discoverRoots(homes map[string]string) []daemon.DiscoverRoot {
	var roots []daemon.DiscoverRoot
	for _, a := range transcript.Agents() {
		if a.Discover() {
			roots = append(roots, daemon.DiscoverRoot{Agent: a.Name(), Dir: filepath.Join(homes[a.Name()], a.Layout().Root)})
		}
	}
	return roots
}

// defaultBuilders wires the span builders of every supported agent.
func defaultBuilders(homes map[string]string, cfg *config.Config, log *slog.Logger) (map[string]daemon.BuilderFactory, error) {
	metadata := cfg.Content == "metadata" // no content in the builders' persisted state either
	red, err := redact.New(cfg)           // for the files a builder reads itself
	if err != nil {
		return nil, err
	}
	builders := map[string]daemon.BuilderFactory{}
	for _, a := range transcript.Agents() {
		name := a.Name()
		builders[name] = func(_, session, transcriptPath string) transcript.Builder {
			return a.NewBuilder(session, transcript.BuilderOptions{TranscriptPath: transcriptPath, Home: homes[name],
				DropContent: metadata, CaptureUserEmail: cfg.CaptureUserEmail, Redact: red.Line,
				Logger: log.With("agent", name, "session", session)})
		}
	}
	return builders, nil
}

// agentFlags are the agents' names on the command line (claude, cursor).
func agentFlags() []string {
	var names []string
	for _, a := range transcript.Agents() {
		names = append(names, a.Aliases()[0])
	}
	return names
}

// orList writes names as "a, b or c".
func orList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}
