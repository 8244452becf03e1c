// Package claudecli installs the pinned Claude Code CLI from the npm registry
// into a shared cache and runs it in print mode (claude -p) against a fake
// Anthropic API, with an isolated HOME and optional hook registration.
package claudecli

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

// Version is the pinned Claude Code version.
const Version = "2.1.328"

// Package is the npm package.
const Package = "@anthropic-ai/claude-code"

// EnvBin points at an already installed claude binary of the pinned version (skips npm).
const EnvBin = "WEAVE_E2E_CLAUDE_BIN"

// CacheDir is where the pinned version is (or will be) installed: <npmpkg.CacheRoot>/claude-code-<Version>.
func CacheDir() (string, error) {
	root, err := npmpkg.CacheRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "claude-code-"+Version), nil
}

// platformPackages lists the optional platform packages that could hold the
// native binary here, most likely first. The wrapper package's postinstall
// (install.cjs) copies that binary over bin/claude.exe; we install with
// --ignore-scripts and use the platform package's binary directly, which also
// avoids the wrapper's node >= 22 engine requirement.
func platformPackages() []string {
	arch := map[string]string{"amd64": "x64", "arm64": "arm64"}[runtime.GOARCH]
	if arch == "" {
		return nil
	}
	switch runtime.GOOS {
	case "linux":
		return []string{Package + "-linux-" + arch, Package + "-linux-" + arch + "-musl"}
	case "darwin":
		return []string{Package + "-darwin-" + arch}
	case "windows":
		return []string{Package + "-win32-" + arch}
	}
	return nil
}

// binaryIn finds a working native binary of the pinned version under an npm prefix.
func binaryIn(prefix string) (string, error) {
	name := "claude"
	if runtime.GOOS == "windows" {
		name = "claude.exe"
	}
	var cands []string
	for _, p := range platformPackages() {
		cands = append(cands, filepath.Join(prefix, "node_modules", filepath.FromSlash(p), name))
	}
	// After a postinstall the wrapper's bin/claude.exe is the native binary too.
	cands = append(cands, filepath.Join(prefix, "node_modules", filepath.FromSlash(Package), "bin", "claude.exe"))
	var errs []error
	for _, c := range cands {
		if _, err := os.Stat(c); err != nil {
			continue
		}
		if err := checkVersion(c); err != nil {
			errs = append(errs, err)
			continue
		}
		return c, nil
	}
	if len(errs) == 0 {
		return "", fmt.Errorf("no claude binary under %s (looked for %s)", prefix, strings.Join(cands, ", "))
	}
	return "", errors.Join(errs...)
}

func checkVersion(bin string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--version").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s --version: %v: %s", bin, err, bytes.TrimSpace(out))
	}
	if !strings.HasPrefix(strings.TrimSpace(string(out)), Version+" ") {
		return fmt.Errorf("%s --version = %q, want %s", bin, strings.TrimSpace(string(out)), Version)
	}
	return nil
}

var installed npmpkg.Once

// Install makes sure the pinned version is installed in CacheDir and returns
// the path of its native binary. Parallel processes serialise on a lock file;
// a finished install is reused. WEAVE_E2E_CLAUDE_BIN short-circuits it.
func Install(ctx context.Context) (string, error) { return installed.Do(ctx, install) }

func install(ctx context.Context) (string, error) {
	if b := os.Getenv(EnvBin); b != "" {
		return b, checkVersion(b)
	}
	dir, err := CacheDir()
	if err != nil {
		return "", err
	}
	// --ignore-scripts (npmpkg's default): the platform package carries the
	// binary; the wrapper's postinstall only copies it. --include=optional: the
	// platform package is an optional dependency, which some npm configs omit.
	return npmpkg.Install(ctx, npmpkg.Spec{Package: Package, Version: Version, Dir: dir, Find: binaryIn,
		Args: []string{"--include=optional"}})
}

// Require returns the pinned binary, installing it if needed. When that is
// impossible (no npm, no registry, unsupported platform) it skips the test,
// unless CI=true, where it fails it.
func Require(t testing.TB) string {
	t.Helper()
	return npmpkg.Require(t, "claude "+Version, Install)
}
