package installer

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInstallFindsCodex: install without agent flags registers hooks for
// every agent whose home exists, Codex CLI included; without codex on PATH
// its hooks cannot be trusted, which the install says (with how to trust
// them) without failing.
func TestInstallFindsCodex(t *testing.T) {
	w := newWorld(t)
	os.MkdirAll(filepath.Join(w.home, ".codex"), 0o755)
	w.env["PATH"] = t.TempDir()
	if err := w.installer().Install(context.Background(), Options{}); err != nil {
		t.Fatalf("install: %v\n%s", err, w.out)
	}
	out := w.out.String()
	hooksFile := filepath.Join(w.home, ".codex", "hooks.json")
	for _, want := range []string{
		"hooks    Codex CLI: registered (found Codex CLI) 8 events in " + hooksFile,
		"warn     Codex CLI: Codex skips these hooks until they are trusted",
		"to trust them: weave-agentd hooks install --codex (with codex on PATH)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Claude Code") || strings.Contains(out, "Cursor") {
		t.Errorf("agents that are not here got hooks:\n%s", out)
	}
	if b, _ := os.ReadFile(hooksFile); !strings.Contains(string(b), HookBinary) {
		t.Errorf("hooks.json:\n%s", b)
	}
}
