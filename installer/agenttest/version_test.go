package agenttest_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weave-agentd/weave-agentd/hooks/hookconfig"
	"github.com/weave-agentd/weave-agentd/installer"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// versionedAgent's events depend on its version, which `versioned
// --version` prints (or ~/.versioned/bin/versioned, off PATH): PostToolUse
// arrived in 2.0.0.
type versionedAgent struct{ newAgent }

func (versionedAgent) Name() string      { return "versioned-agent" }
func (versionedAgent) Title() string     { return "Versioned" }
func (versionedAgent) Aliases() []string { return []string{"versioned"} }

func (versionedAgent) Home(_ func(string) string, userHome string) string {
	return filepath.Join(userHome, ".versioned")
}

func (versionedAgent) HookConfig() hookconfig.Agent {
	h := newAgent{}.HookConfig()
	h.Name, h.Project = "versioned", filepath.Join(".versioned", "hooks.json")
	h.Events = func(v hookconfig.Version) ([]string, error) {
		if v != (hookconfig.Version{}) && v.Less(hookconfig.Version{Major: 2}) {
			return []string{"SessionStart", "Stop"}, nil
		}
		return []string{"SessionStart", "PostToolUse", "Stop"}, nil
	}
	h.Version = &hookconfig.VersionProbe{Args: []string{"versioned", "--version"},
		Installs: func(agentHome, _ string) []string { return []string{filepath.Join(agentHome, "bin", "versioned")} },
		Older:    "they lack PostToolUse"}
	return h
}

func init() { transcript.Register(versionedAgent{}) }

// versionRunner answers `<argv0> --version` from its map; anything else fails.
type versionRunner struct {
	answers map[string]string
	asked   []string
}

func (r *versionRunner) Run(_ context.Context, name string, args ...string) ([]byte, error) {
	r.asked = append(r.asked, strings.Join(append([]string{name}, args...), " "))
	if out, ok := r.answers[name]; ok && len(args) == 1 && args[0] == "--version" {
		return []byte(out), nil
	}
	return nil, errors.New("not found")
}

// TestAgentVersionPicksEvents: an agent's events follow the version its
// own probe reports (Claude Code is no special case): asked on PATH, then
// where its installers put it; unknown: its recent events, with a note.
func TestAgentVersionPicksEvents(t *testing.T) {
	for _, tc := range []struct {
		name    string
		answers map[string]string
		events  int
		note    string
	}{
		{"old on PATH", map[string]string{"versioned": "versioned 1.4.2\n"}, 2,
			"note     Versioned 1.4.2: registering only the 2 events it knows (they lack PostToolUse)"},
		{"new off PATH", map[string]string{"@home/.versioned/bin/versioned": "2.1.0"}, 3, ""},
		{"unknown", nil, 3,
			"note     Versioned's version is unknown ('versioned --version' did not answer): registering the events of a recent one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := t.TempDir()
			bin := t.TempDir()
			for _, b := range []string{installer.DaemonBinary, installer.HookBinary} {
				if err := os.WriteFile(filepath.Join(bin, b), []byte("#!/bin/sh\n"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			vbin := filepath.Join(home, ".versioned", "bin", "versioned")
			if err := os.MkdirAll(filepath.Dir(vbin), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(vbin, []byte("#!/bin/sh\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			answers := map[string]string{}
			for k, v := range tc.answers {
				answers[strings.Replace(k, "@home", home, 1)] = v
			}
			r := &versionRunner{answers: answers}
			var out strings.Builder
			in, err := installer.New(installer.Settings{Home: home, Getenv: func(string) string { return "" },
				Out: &out, Executable: filepath.Join(bin, installer.DaemonBinary), Runner: r})
			if err != nil {
				t.Fatal(err)
			}
			if err := in.HooksInstall(context.Background(), installer.HookOptions{Agents: []string{"versioned"}}); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), "Versioned: registered "+string(rune('0'+tc.events))+" events") {
				t.Errorf("want %d events:\n%s", tc.events, &out)
			}
			if tc.note != "" && !strings.Contains(out.String(), tc.note) {
				t.Errorf("output lacks %q:\n%s", tc.note, &out)
			}
			if tc.note == "" && strings.Contains(out.String(), "note     Versioned") {
				t.Errorf("a note for a recent version:\n%s", &out)
			}
			for _, a := range r.asked {
				if !strings.Contains(a, "versioned") {
					t.Errorf("asked %q: another agent's version", a)
				}
			}
		})
	}
}
