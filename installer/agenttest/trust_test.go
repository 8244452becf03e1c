package agenttest_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weave-agentd/weave-agentd/hooks/hookconfig"
	"github.com/weave-agentd/weave-agentd/installer"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// trustyAgent runs only hooks the user trusted, as Codex CLI does: its
// trust is the hash of the hook file's content, recorded in <home>/trust
// (TRUSTY_BROKEN in the environment: it cannot be recorded).
type trustyAgent struct{ newAgent }

func (trustyAgent) Name() string      { return "trusty-agent" }
func (trustyAgent) Title() string     { return "Trusty" }
func (trustyAgent) Aliases() []string { return []string{"trusty"} }

func (trustyAgent) Home(_ func(string) string, userHome string) string {
	return filepath.Join(userHome, ".trusty")
}

func (trustyAgent) HookConfig() hookconfig.Agent {
	h := newAgent{}.HookConfig()
	h.Name, h.Project = "trusty", filepath.Join(".trusty", "hooks.json")
	return h
}

func fileHash(path string) string {
	b, _ := os.ReadFile(path)
	return fmt.Sprintf("%x", sha256.Sum256(b))
}

func (trustyAgent) TrustHooks(_ context.Context, f transcript.HookFile) (string, error) {
	if !strings.Contains(f.Command, installer.HookBinary) {
		return "", fmt.Errorf("asked to trust %q, not our command", f.Command)
	}
	if f.Getenv("TRUSTY_BROKEN") != "" {
		return "", errors.New("Trusty will skip our hooks until they are trusted: run 'weave-agentd hooks install " + f.Flag + "' again")
	}
	return "trusted our hooks in " + f.Path, os.WriteFile(filepath.Join(f.Home, "trust"), []byte(fileHash(f.Path)), 0o600)
}

func (a trustyAgent) CheckHookTrust(_ context.Context, f transcript.HookFile) []transcript.Finding {
	return a.trust("Trusty says: ", f)
}

func (a trustyAgent) HookTrustOnDisk(f transcript.HookFile) []transcript.Finding {
	return a.trust("", f)
}

func (trustyAgent) trust(prefix string, f transcript.HookFile) []transcript.Finding {
	b, _ := os.ReadFile(filepath.Join(f.Home, "trust"))
	if string(b) != fileHash(f.Path) {
		return []transcript.Finding{{Warn: true, Fail: true, Message: prefix + "our hooks are not trusted", Fix: "weave-agentd hooks install " + f.Flag}}
	}
	return []transcript.Finding{{Message: prefix + "our hooks are trusted"}}
}

func init() { transcript.Register(trustyAgent{}) }

type failRunner struct{}

func (failRunner) Run(context.Context, string, ...string) ([]byte, error) {
	return nil, errors.New("not here")
}

type downProber struct{}

func (downProber) Probe(context.Context) error { return errors.New("down") }

// TestHookTrust: hooks of an agent that runs only trusted hooks are trusted
// on install; an edit shows in status and doctor; when trust cannot be
// recorded the install still succeeds and says how to trust them.
func TestHookTrust(t *testing.T) {
	home := t.TempDir()
	bin := t.TempDir()
	for _, b := range []string{installer.DaemonBinary, installer.HookBinary} {
		if err := os.WriteFile(filepath.Join(bin, b), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	thome := filepath.Join(home, ".trusty")
	if err := os.Mkdir(thome, 0o700); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	var out strings.Builder
	in, err := installer.New(installer.Settings{Home: home, Getenv: func(k string) string { return env[k] },
		Out: &out, Executable: filepath.Join(bin, installer.DaemonBinary), Runner: failRunner{}, Prober: downProber{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	path := filepath.Join(thome, "hooks.json")

	if err := in.HooksInstall(ctx, installer.HookOptions{Agents: []string{"trusty"}}); err != nil {
		t.Fatalf("%v\n%s", err, &out)
	}
	if !strings.Contains(out.String(), "trusted our hooks in "+path) {
		t.Errorf("install does not record the trust:\n%s", &out)
	}
	sts, err := in.HooksStatus(ctx, installer.HookOptions{Agents: []string{"trusty"}})
	if err != nil || len(sts) != 1 || !sts[0].Works() {
		t.Fatalf("after install: %+v %v", sts, err)
	}

	// Any edit un-trusts: status says so from the files, doctor from the agent.
	if err := os.WriteFile(path, append(must(os.ReadFile(path)), ' '), 0o600); err != nil {
		t.Fatal(err)
	}
	sts, _ = in.HooksStatus(ctx, installer.HookOptions{Agents: []string{"trusty"}})
	if len(sts) != 1 || !sts[0].Registered() || sts[0].Works() || !strings.Contains(sts[0].Line(), "our hooks are not trusted") {
		t.Fatalf("after an edit: %+v\n%s", sts, sts[0].Line())
	}
	rep := in.Doctor(ctx)
	found := false
	for _, c := range rep.Checks {
		if c.What == "Trusty says: our hooks are not trusted" && c.Level == installer.Fail && c.Hint == "weave-agentd hooks install --trusty" {
			found = true
		}
	}
	if !found {
		var b strings.Builder
		rep.WriteTo(&b)
		t.Errorf("doctor does not fail on untrusted hooks:\n%s", &b)
	}

	// Trust cannot be recorded: the hooks are registered all the same, and
	// the output says how to trust them.
	env["TRUSTY_BROKEN"] = "1"
	out.Reset()
	if err := in.HooksInstall(ctx, installer.HookOptions{Agents: []string{"trusty"}}); err != nil {
		t.Fatalf("install fails when trust cannot be recorded: %v", err)
	}
	if !strings.Contains(out.String(), "warn     Trusty: Trusty will skip our hooks until they are trusted: run 'weave-agentd hooks install --trusty' again") {
		t.Errorf("output:\n%s", &out)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
