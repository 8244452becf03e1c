// Package geminicli installs the pinned Gemini CLI from the npm registry into
// a shared cache and runs it headless (gemini -p) against a stand-in Gemini
// API, with an isolated HOME, pinned settings and optional hook registration.
package geminicli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/weave-agentd/weave-agentd/e2e/internal/npmpkg"
)

// Version is the pinned Gemini CLI version.
const Version = "0.61.0"

// Package is the npm package.
const Package = "@google/gemini-cli"

// EnvBin points at an installed gemini of the pinned version (its bundle/gemini.js,
// or an executable): no npm.
const EnvBin = "WEAVE_E2E_GEMINI_BIN"

// find returns bundle/gemini.js under an npm prefix when package.json there
// says the pinned version. (Reading the version beats running --version,
// which takes seconds and writes into ~/.gemini.)
func find(prefix string) (string, error) {
	dir := filepath.Join(prefix, "node_modules", filepath.FromSlash(Package))
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return "", err
	}
	var pkg struct {
		Version string            `json:"version"`
		Bin     map[string]string `json:"bin"`
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		return "", fmt.Errorf("%s/package.json: %w", dir, err)
	}
	if pkg.Version != Version || pkg.Bin["gemini"] == "" {
		return "", fmt.Errorf("%s is version %q, want %s", dir, pkg.Version, Version)
	}
	js := filepath.Join(dir, filepath.FromSlash(pkg.Bin["gemini"]))
	if _, err := os.Stat(js); err != nil {
		return "", err
	}
	return js, nil
}

var installed npmpkg.Once

// Install makes sure the pinned version is in the cache and returns its
// bundle/gemini.js (run with node). WEAVE_E2E_GEMINI_BIN short-circuits it.
func Install(ctx context.Context) (string, error) { return installed.Do(ctx, install) }

func install(ctx context.Context) (string, error) {
	if b := os.Getenv(EnvBin); b != "" {
		return b, nil
	}
	root, err := npmpkg.CacheRoot()
	if err != nil {
		return "", err
	}
	// Optional dependencies (node-pty, keytar) are native; without them the
	// shell tool runs through child_process, the same on every machine.
	return npmpkg.Install(ctx, npmpkg.Spec{Package: Package, Version: Version,
		Dir: filepath.Join(root, "gemini-cli-"+Version), Args: []string{"--omit=optional"}, Find: find})
}

// Require returns the pinned CLI, installing it if needed. When that is
// impossible (no npm or node, no registry) it skips the test, unless CI=true,
// where it fails it.
func Require(t testing.TB) string {
	t.Helper()
	return npmpkg.Require(t, "gemini "+Version, func(ctx context.Context) (string, error) {
		b, err := Install(ctx)
		if err == nil {
			_, err = nodePath(b)
		}
		return b, err
	})
}
