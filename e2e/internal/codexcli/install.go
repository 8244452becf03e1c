// Package codexcli installs the pinned Codex CLI from the npm registry into
// the end-to-end tests' shared cache and runs `codex exec` offline against a
// stand-in Responses API, with a fresh CODEX_HOME, an offline config.toml and
// optional hooks.
package codexcli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/e2e/internal/npmpkg"
)

// Version is the pinned Codex CLI version.
const Version = "0.171.0"

// Package is the npm package.
const Package = "@openai/codex"

// EnvBin points at an already installed codex binary of the pinned version (skips npm).
const EnvBin = "WEAVE_E2E_CODEX_BIN"

// CacheDir is where the pinned version is (or will be) installed: <npmpkg.CacheRoot>/codex-<Version>.
func CacheDir() (string, error) {
	root, err := npmpkg.CacheRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "codex-"+Version), nil
}

// target is the platform package and Rust target triple holding the native
// binary (what bin/codex.js picks). The wrapper only execs that binary with
// CODEX_MANAGED_BY_NPM and CODEX_MANAGED_PACKAGE_ROOT set, so we run it
// directly and Node is not needed at run time.
func target() (pkg, triple string) {
	arch := map[string]string{"amd64": "x64", "arm64": "arm64"}[runtime.GOARCH]
	rarch := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]
	if arch == "" {
		return "", ""
	}
	switch runtime.GOOS {
	case "linux":
		return Package + "-linux-" + arch, rarch + "-unknown-linux-musl"
	case "darwin":
		return Package + "-darwin-" + arch, rarch + "-apple-darwin"
	}
	return "", ""
}

// binaryIn finds a working native binary of the pinned version under an npm prefix.
func binaryIn(prefix string) (string, error) {
	pkg, triple := target()
	if pkg == "" {
		return "", fmt.Errorf("codex %s: unsupported platform %s/%s", Version, runtime.GOOS, runtime.GOARCH)
	}
	bin := filepath.Join(prefix, "node_modules", filepath.FromSlash(pkg), "vendor", triple, "bin", "codex")
	if _, err := os.Stat(bin); err != nil {
		return "", err
	}
	return bin, checkVersion(bin)
}

func checkVersion(bin string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--version").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s --version: %w: %s", bin, err, bytes.TrimSpace(out))
	}
	if got := strings.TrimSpace(string(out)); got != "codex-cli "+Version {
		return fmt.Errorf("%s --version = %q, want codex-cli %s", bin, got, Version)
	}
	return nil
}

var installed npmpkg.Once

// Install makes sure the pinned version is in CacheDir (one npm install,
// shared by every test, process and CI run) and returns its native binary.
// WEAVE_E2E_CODEX_BIN short-circuits it.
func Install(ctx context.Context) (string, error) { return installed.Do(ctx, install) }

func install(ctx context.Context) (string, error) {
	if b := os.Getenv(EnvBin); b != "" {
		return b, checkVersion(b)
	}
	dir, err := CacheDir()
	if err != nil {
		return "", err
	}
	return npmpkg.Install(ctx, npmpkg.Spec{Package: Package, Version: Version, Dir: dir, Find: binaryIn,
		// the native binary comes in a platform package, an optional dependency
		Args: []string{"--include=optional"}})
}

// Require returns the pinned binary, installing it if needed. When that is
// impossible (no npm, no registry, unsupported platform) it skips the test,
// unless CI=true, where it fails it.
func Require(t testing.TB) string {
	t.Helper()
	return npmpkg.Require(t, "codex "+Version, Install)
}

// NewHome makes a fresh folder for HOME and CODEX_HOME (<dir>/.codex),
// removed when the test ends. It lives in the e2e cache, not under /tmp:
// Codex refuses to create its PATH helper aliases under a temp dir and
// warns on every run.
func NewHome(t testing.TB) string {
	t.Helper()
	root, err := npmpkg.CacheRoot()
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(root, "codex-homes")
	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Fatal(err)
	}
	sweepHomes(base, time.Now().Add(-24*time.Hour))
	dir, err := os.MkdirTemp(base, "h-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Errorf("remove codex home: %v", err)
		}
	})
	return dir
}

// sweepHomes removes homes older than before: those of test processes that
// were killed before their cleanup ran (a CI cache would keep them forever).
func sweepHomes(base string, before time.Time) {
	entries, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, e := range entries {
		if info, err := e.Info(); err == nil && e.IsDir() && strings.HasPrefix(e.Name(), "h-") && info.ModTime().Before(before) {
			_ = os.RemoveAll(filepath.Join(base, e.Name()))
		}
	}
}
