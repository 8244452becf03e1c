package codex_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weave-agentd/weave-agentd/installer"
	"github.com/weave-agentd/weave-agentd/transcript"
	"github.com/weave-agentd/weave-agentd/transcript/codex"
)

// trustWorld is a user with Codex's home and weave-agentd's binaries; path
// is what PATH holds.
type trustWorld struct {
	home, codexHome, hooksFile, path string
	in                               *installer.Installer
	out                              *strings.Builder
}

func newTrustWorld(t *testing.T, path string) *trustWorld {
	t.Helper()
	w := &trustWorld{home: t.TempDir(), path: path, out: &strings.Builder{}}
	w.codexHome = filepath.Join(w.home, ".codex")
	w.hooksFile = filepath.Join(w.codexHome, "hooks.json")
	bin := t.TempDir()
	for _, b := range []string{installer.DaemonBinary, installer.HookBinary} {
		if err := os.WriteFile(filepath.Join(bin, b), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(w.codexHome, 0o700); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"HOME": w.home, "PATH": path}
	in, err := installer.New(installer.Settings{Home: w.home, Getenv: func(k string) string { return env[k] },
		Out: w.out, Executable: filepath.Join(bin, installer.DaemonBinary)})
	if err != nil {
		t.Fatal(err)
	}
	w.in = in
	return w
}

func (w *trustWorld) status(t *testing.T) installer.HookStatus {
	t.Helper()
	sts, err := w.in.HooksStatus(context.Background(), installer.HookOptions{Agents: []string{"codex"}})
	if err != nil || len(sts) != 1 {
		t.Fatalf("status: %v %v", sts, err)
	}
	return sts[0]
}

// TestTrustWithoutCodex: codex is not installed; the hooks are registered
// all the same, install succeeds and says how to trust them; status says
// Codex skips them.
func TestTrustWithoutCodex(t *testing.T) {
	w := newTrustWorld(t, t.TempDir())
	if err := w.in.HooksInstall(context.Background(), installer.HookOptions{Agents: []string{"codex"}}); err != nil {
		t.Fatalf("install fails without codex: %v\n%s", err, w.out)
	}
	out := w.out.String()
	for _, want := range []string{
		"hooks    Codex CLI: registered 8 events in " + w.hooksFile,
		"warn     Codex CLI: Codex skips these hooks until they are trusted (it says nothing), and they could not be trusted: codex is not installed here (not on PATH); to trust them: weave-agentd hooks install --codex (with codex on PATH), or review them in Codex's /hooks view",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	st := w.status(t)
	if !st.Registered() || st.Works() || !strings.Contains(st.Line(), "Codex skips 8 of our 8 hooks (8 never trusted)") {
		t.Errorf("status: %s", st.Line())
	}
}

// realCodexPath is a PATH that finds first the codex binary named by
// WEAVE_AGENTD_TEST_CODEX (or the e2e suite's WEAVE_E2E_CODEX_BIN), when it
// is the pinned version.
func realCodexPath(t *testing.T) string {
	bin := os.Getenv("WEAVE_AGENTD_TEST_CODEX")
	if bin == "" {
		bin = os.Getenv("WEAVE_E2E_CODEX_BIN")
	}
	if bin == "" {
		t.Skip("neither WEAVE_AGENTD_TEST_CODEX nor WEAVE_E2E_CODEX_BIN names a codex-cli 0.171.0 binary")
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil || !strings.Contains(string(out), "0.171.0") {
		t.Fatalf("%s --version: %q %v; want codex-cli 0.171.0", bin, out, err)
	}
	dir := t.TempDir() // codex under that name, first on PATH (npm's codex is a node script)
	if err := os.Symlink(bin, filepath.Join(dir, "codex")); err != nil {
		t.Fatal(err)
	}
	return dir + string(filepath.ListSeparator) + os.Getenv("PATH")
}

// TestTrustRealCodex: install trusts our hooks through the real codex
// app-server; status (from the files) and doctor's check (asking codex)
// agree before and after an edit un-trusts one; a second install trusts it
// again.
func TestTrustRealCodex(t *testing.T) {
	w := newTrustWorld(t, realCodexPath(t))
	ctx := context.Background()
	ho := installer.HookOptions{Agents: []string{"codex"}}
	if err := w.in.HooksInstall(ctx, ho); err != nil {
		t.Fatalf("%v\n%s", err, w.out)
	}
	if want := "trusted in Codex: 8 hooks (hooks.state in " + filepath.Join(w.codexHome, "config.toml") + ")"; !strings.Contains(w.out.String(), want) {
		t.Fatalf("output lacks %q:\n%s", want, w.out)
	}
	st := w.status(t)
	if !st.Works() {
		t.Errorf("status after install: %s", st.Line())
	}
	f := transcript.HookFile{Home: w.codexHome, Path: w.hooksFile, Command: st.Entries[0].Command,
		Getenv: func(k string) string { return map[string]string{"PATH": w.path, "HOME": w.home}[k] }, Flag: "--codex"}
	if got := (codex.Agent{}).CheckHookTrust(ctx, f); len(got) != 1 || got[0].Warn || got[0].Message != "Codex trusts and runs our 8 hooks in "+w.hooksFile {
		t.Errorf("codex's own view after install: %+v", got)
	}

	// The user edits our Stop handler: Codex skips it from now on, and
	// both checks say so.
	b, _ := os.ReadFile(w.hooksFile)
	i := strings.Index(string(b), `"Stop"`)
	edited := string(b[:i]) + strings.Replace(string(b[i:]), `"timeout": 3`, `"timeout": 2`, 1)
	if err := os.WriteFile(w.hooksFile, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	if st := w.status(t); st.Works() || !strings.Contains(st.Line(), "Codex skips 1 of our 8 hooks (1 changed since trusted)") {
		t.Errorf("status after an edit: %s", st.Line())
	}
	if got := (codex.Agent{}).CheckHookTrust(ctx, f); len(got) != 1 || !got[0].Fail || !strings.Contains(got[0].Message, "Codex skips 1 of our 8 hooks in "+w.hooksFile+": Stop (modified)") {
		t.Errorf("codex's own view after an edit: %+v", got)
	}
	// A reinstall restores the content Codex trusted.
	w.out.Reset()
	if err := w.in.HooksInstall(ctx, ho); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(w.out.String(), "Codex already trusts these 8 hooks") {
		t.Errorf("reinstall:\n%s", w.out)
	}
	if st := w.status(t); !st.Works() {
		t.Errorf("status after reinstall: %s", st.Line())
	}
}
