package codexapp

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// realCodex is the codex binary named by WEAVE_AGENTD_TEST_CODEX, when it
// is the version whose hashing hash.go documents.
func realCodex(t *testing.T) string {
	bin := os.Getenv("WEAVE_AGENTD_TEST_CODEX")
	if bin == "" {
		t.Skip("WEAVE_AGENTD_TEST_CODEX is not set (the path of codex-cli 0.171.0, e.g. node_modules/.bin/codex after npm install @openai/codex@0.171.0)")
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil || !strings.Contains(string(out), "0.171.0") {
		t.Fatalf("%s --version: %q %v; want codex-cli 0.171.0", bin, out, err)
	}
	return bin
}

// TestRealCodexTrust runs the real app-server: the hashes FileTrust
// computes are Codex's own, Trust makes Codex run our handlers and only
// them, and any edit of hooks.json un-trusts a handler again.
func TestRealCodexTrust(t *testing.T) {
	bin := realCodex(t)
	home := t.TempDir()
	codexHome := filepath.Join(home, ".codex")
	if err := os.Mkdir(codexHome, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(codexHome, "hooks.json")
	config := filepath.Join(codexHome, "config.toml")
	cmd := "WEAVE_AGENTD_HOME=/srv/wa /srv/wa/bin/weave-agentd-hook"
	hooks := `{"hooks": {
  "SessionStart": [{"hooks": [{"type": "command", "command": "` + cmd + `", "timeout": 5}]}],
  "UserPromptSubmit": [{"hooks": [{"type": "command", "command": "/usr/bin/theirs"}, {"type": "command", "command": "` + cmd + `", "timeout": 5}]}],
  "PreToolUse": [{"matcher": "*", "hooks": [{"type": "command", "command": "` + cmd + `", "timeout": 5}]}],
  "PostToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "/usr/bin/theirs", "statusMessage": "x"}]}, {"matcher": "*", "hooks": [{"type": "command", "command": "` + cmd + `", "timeout": 5}]}],
  "PreCompact": [{"hooks": [{"type": "command", "command": "` + cmd + `", "timeout": 5}]}],
  "PostCompact": [{"hooks": [{"type": "command", "command": "` + cmd + `", "timeout": 5}]}],
  "Stop": [{"matcher": "ignored", "hooks": [{"type": "command", "command": "` + cmd + `", "timeout": 5}]}],
  "SessionEnd": [{"hooks": [{"type": "command", "command": "` + cmd + `", "timeout": 5}]}]
}}`
	if err := os.WriteFile(path, []byte(hooks), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(config, []byte("[hooks.state.\"/elsewhere/hooks.json:stop:0:0\"]\nenabled = false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o := Options{Binary: bin, Dir: home, Env: []string{"HOME=" + home, "CODEX_HOME=" + codexHome, "PATH=" + os.Getenv("PATH")}}
	target := Target{Path: path, Cwd: home, Command: cmd}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	listed, err := Check(ctx, o, target)
	if err != nil {
		t.Fatal(err)
	}
	ours, err := FileTrust(path, config, cmd)
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != 8 || len(ours) != 8 {
		t.Fatalf("codex lists %d handlers of ours, FileTrust finds %d; want 8", len(listed), len(ours))
	}
	computed := map[string]string{}
	for _, h := range ours {
		computed[h.Key] = h.CurrentHash
		if h.Trusted() {
			t.Errorf("%s is trusted before Trust", h.Key)
		}
	}
	for _, h := range listed {
		if computed[h.Key] != h.CurrentHash {
			t.Errorf("%s: FileTrust computes %q, codex %q", h.Key, computed[h.Key], h.CurrentHash)
		}
		if h.TrustStatus != "untrusted" {
			t.Errorf("%s is %s before Trust", h.Key, h.TrustStatus)
		}
	}

	res, err := Trust(ctx, o, target)
	if err != nil {
		t.Fatal(err)
	}
	if res.Trusted != 8 {
		t.Errorf("trusted %d, want 8", res.Trusted)
	}
	if ours, _ = FileTrust(path, config, cmd); len(ours) != 8 {
		t.Fatalf("FileTrust after Trust: %d handlers", len(ours))
	}
	for _, h := range ours {
		if !h.Trusted() {
			t.Errorf("%s: not trusted in config.toml after Trust (%+v)", h.Key, h)
		}
	}
	theirs, err := FileTrust(path, config, "/usr/bin/theirs")
	if err != nil || len(theirs) != 2 {
		t.Fatalf("their handlers: %v %v", theirs, err)
	}
	for _, h := range theirs {
		if h.TrustedHash != "" {
			t.Errorf("someone else's handler %s got trusted", h.Key)
		}
	}
	b, _ := os.ReadFile(config)
	if !strings.Contains(string(b), "/elsewhere/hooks.json:stop:0:0") {
		t.Errorf("the other hooks.state entry is gone:\n%s", b)
	}

	// An edit un-trusts: codex says "modified", FileTrust agrees.
	if err := os.WriteFile(path, []byte(strings.Replace(hooks, `"timeout": 5}]}],
  "PreCompact"`, `"timeout": 6}]}],
  "PreCompact"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	listed, err = Check(ctx, o, target)
	if err != nil {
		t.Fatal(err)
	}
	ours, _ = FileTrust(path, config, cmd)
	trusted := map[string]bool{}
	for _, h := range ours {
		trusted[h.Key] = h.Trusted()
	}
	modified := 0
	for _, h := range listed {
		if h.TrustStatus == "modified" {
			modified++
		}
		if trusted[h.Key] != (h.TrustStatus == "trusted") {
			t.Errorf("%s: codex says %s, FileTrust trusted=%v", h.Key, h.TrustStatus, trusted[h.Key])
		}
	}
	if modified != 1 {
		t.Errorf("%d handlers modified after one edit, want 1", modified)
	}
}
