package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/e2e/internal/agentd"
	"github.com/weave-agentd/weave-agentd/e2e/internal/codexcli"
	oa "github.com/weave-agentd/weave-agentd/e2e/internal/fakeopenai"
	"github.com/weave-agentd/weave-agentd/hooks"
)

// TestCodexHookTrust: Codex CLI runs a hook only once its content is
// trusted. `weave-agentd hooks install --codex` records that trust through
// the real `codex app-server`, so the real CLI — run without
// --dangerously-bypass-hook-trust — runs our hook client (which, with no
// daemon, journals the events in the inbox). An edit of hooks.json
// un-trusts them: Codex then skips them silently, and status and doctor say
// so; a reinstall restores them.
func TestCodexHookTrust(t *testing.T) {
	bin := codexcli.Require(t)
	h := agentd.NewHome(t)
	home := codexcli.NewHome(t)
	codexHome := codexcli.CodexHome(home)
	api := oa.Start(t, func(*oa.Call) oa.Reply { return oa.Say("Hello.", oa.Usage{InputTokens: 10, OutputTokens: 2}) })
	o := codexcli.Options{Home: home, Cwd: filepath.Join(home, "project"), BaseURL: api.BaseURL()}
	if err := codexcli.WriteConfig(o); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(o.Cwd, 0o755); err != nil {
		t.Fatal(err)
	}
	// As a user would have it: codex on PATH, its home in CODEX_HOME.
	codexDir := t.TempDir()
	if err := os.Symlink(bin, filepath.Join(codexDir, "codex")); err != nil {
		t.Fatal(err)
	}
	h.Env = append(h.Env, "CODEX_HOME="+codexHome, "PATH="+codexDir+string(filepath.ListSeparator)+os.Getenv("PATH"))
	paths, err := hooks.ResolvePaths(func(k string) string {
		if k == "WEAVE_AGENTD_HOME" {
			return h.Dir
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}

	// run runs one prompt without bypassing hook trust and returns what our
	// hooks journaled meanwhile.
	run := func(prompt string) string {
		t.Helper()
		os.Remove(paths.Inbox)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "exec", "--skip-git-repo-check", "--json", prompt)
		cmd.Dir = o.Cwd
		cmd.Env = append(os.Environ(), "HOME="+home, "CODEX_HOME="+codexHome, "WEAVE_E2E_OPENAI_KEY=sk-weave-e2e-fake-key",
			"NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost", "NO_COLOR=1", "RUST_LOG=")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("codex exec: %v\nstdout: %s\nstderr: %s", err, &stdout, &stderr)
		}
		if !strings.Contains(stdout.String(), "Hello.") {
			t.Fatalf("codex exec did not answer:\n%s\n%s", &stdout, &stderr)
		}
		b, _ := os.ReadFile(paths.Inbox)
		return string(b)
	}
	codexHooks := func() map[string]any {
		t.Helper()
		st, _ := h.Status()
		list, _ := st["hooks"].([]any)
		for _, x := range list {
			if m, _ := x.(map[string]any); m["agent"] == "codex" {
				return m
			}
		}
		t.Fatalf("status --json lists no Codex hooks: %v", st)
		return nil
	}

	r := h.CLI("hooks", "install", "--codex")
	if r.Code != 0 || !strings.Contains(r.Stdout, "trusted in Codex: 8 hooks (hooks.state in "+filepath.Join(codexHome, "config.toml")+")") {
		t.Fatalf("hooks install --codex: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	inbox := run("say hello")
	for _, ev := range []string{"SessionStart", "UserPromptSubmit", "Stop"} {
		if !strings.Contains(inbox, `\"hook_event_name\":\"`+ev+`\"`) && !strings.Contains(inbox, `"hook_event_name":"`+ev+`"`) {
			t.Errorf("codex did not run our trusted %s hook; inbox:\n%.2000s", ev, inbox)
		}
	}
	if st := codexHooks(); st["registered"] != true || st["untrusted"] != nil {
		t.Errorf("status after install: %v", st)
	}

	// The user edits the file (every timeout): Codex skips our hooks.
	b, err := os.ReadFile(filepath.Join(codexHome, "hooks.json"))
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.ReplaceAll(string(b), `"timeout": 3`, `"timeout": 2`)
	if edited == string(b) {
		t.Fatalf("no timeout to edit in hooks.json:\n%s", b)
	}
	if err := os.WriteFile(filepath.Join(codexHome, "hooks.json"), []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	if inbox := run("say hello again"); strings.Contains(inbox, "hook_event_name") {
		t.Errorf("codex ran hooks whose content changed since they were trusted:\n%.2000s", inbox)
	}
	if st := codexHooks(); !strings.Contains(st["untrusted"].(string), "Codex skips 8 of our 8 hooks (8 changed since trusted)") {
		t.Errorf("status after an edit: %v", st)
	}
	r = h.CLI("doctor")
	if r.Code == 0 || !strings.Contains(r.Stdout, "FAIL  Codex skips 8 of our 8 hooks in "+filepath.Join(codexHome, "hooks.json")) {
		t.Errorf("doctor after an edit: exit %d\n%s", r.Code, r.Stdout)
	}

	// A reinstall writes back the content Codex trusted.
	r = h.CLI("hooks", "install", "--codex")
	if r.Code != 0 || !strings.Contains(r.Stdout, "Codex already trusts these 8 hooks") {
		t.Fatalf("reinstall: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	if inbox := run("say hello once more"); !strings.Contains(inbox, "SessionStart") {
		t.Errorf("codex does not run our hooks after the reinstall; inbox:\n%.2000s", inbox)
	}
	if r := h.CLI("hooks", "status", "--codex"); r.Code != 0 {
		t.Errorf("hooks status --codex: exit %d\n%s", r.Code, r.Stdout)
	}
}
