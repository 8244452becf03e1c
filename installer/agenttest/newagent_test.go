// Package agenttest_test shows that an agent registered by one package,
// with hook settings of its own, gets hooks installed, inspected and
// removed by the installer without any change to it. It is a package of its
// own so that its extra agent stays out of the other tests' registry.
package agenttest_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weave-agentd/weave-agentd/hooks/hookconfig"
	"github.com/weave-agentd/weave-agentd/installer"
	"github.com/weave-agentd/weave-agentd/transcript"
	"github.com/weave-agentd/weave-agentd/transcript/claude"
)

// newAgent is an agent shaped like Codex CLI: home ~/.newagent (or
// $NEWAGENT_HOME), hooks in <home>/hooks.json as Claude Code's matcher
// groups. Its transcripts and builder are Claude Code's: only its hooks
// matter here.
type newAgent struct{ claude.Agent }

func (newAgent) Name() string      { return "new-agent" }
func (newAgent) Title() string     { return "New Agent" }
func (newAgent) Aliases() []string { return []string{"newagent"} }

func (newAgent) Home(getenv func(string) string, userHome string) string {
	if d := getenv("NEWAGENT_HOME"); d != "" {
		return d
	}
	return filepath.Join(userHome, ".newagent")
}

func (newAgent) HookConfig() hookconfig.Agent {
	return hookconfig.Agent{Name: "newagent", File: "hooks.json", Project: filepath.Join(".newagent", "hooks.json"),
		Events: func(hookconfig.Version) ([]string, error) {
			return []string{"SessionStart", "PostToolUse", "Stop"}, nil
		},
		Known: []string{"SessionStart", "PostToolUse", "Stop"}, Tools: map[string]bool{"PostToolUse": true}}
}

func init() { transcript.Register(newAgent{}) }

func TestNewAgentHooks(t *testing.T) {
	home := t.TempDir()
	bin := t.TempDir()
	for _, b := range []string{installer.DaemonBinary, installer.HookBinary} {
		if err := os.WriteFile(filepath.Join(bin, b), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(home, ".newagent"), 0o700); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	in, err := installer.New(installer.Settings{Home: home, Getenv: func(string) string { return "" },
		Out: &out, Executable: filepath.Join(bin, installer.DaemonBinary)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// Found on this machine (its home exists), among the agents with hooks.
	if got := in.DetectAgents(); len(got) != 1 || got[0].Name() != "new-agent" {
		t.Fatalf("detected %v, want the new agent alone (Claude Code and Cursor have no home here)", got)
	}
	if err := in.HooksInstall(ctx, installer.HookOptions{}); err != nil {
		t.Fatalf("%v\n%s", err, &out)
	}
	if !strings.Contains(out.String(), "hooks    New Agent: registered (found New Agent) 3 events in "+filepath.Join(home, ".newagent", "hooks.json")) {
		t.Errorf("output:\n%s", &out)
	}
	b, err := os.ReadFile(filepath.Join(home, ".newagent", "hooks.json"))
	if err != nil {
		t.Fatal(err)
	}
	if s := string(b); !strings.Contains(s, `"PostToolUse": [`) || !strings.Contains(s, `"matcher": "*"`) || strings.Contains(s, `"version"`) {
		t.Errorf("hooks.json in Claude Code's shape, with a matcher on the tool event:\n%s", s)
	}
	sts, err := in.HooksStatus(ctx, installer.HookOptions{Agents: []string{"newagent"}})
	if err != nil || len(sts) != 1 || !sts[0].Registered() || !strings.HasPrefix(sts[0].Line(), "New Agent   user ") {
		t.Fatalf("status %+v, %v", sts, err)
	}
	// Uninstall without naming agents covers it too.
	if err := in.HooksUninstall(ctx, installer.HookOptions{}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(home, ".newagent", "hooks.json")); strings.Contains(string(b), installer.HookBinary) {
		t.Errorf("our hooks left after uninstall:\n%s", b)
	}
}
