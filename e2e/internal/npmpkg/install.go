// Package npmpkg installs a pinned npm package once into a cache shared by
// test processes and runs (an flock'd lock file, a temp dir renamed into
// place), for the end-to-end tests that run real agent CLIs.
package npmpkg

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// EnvCache overrides the cache root (default os.UserCacheDir()/weave-agentd-e2e).
const EnvCache = "WEAVE_E2E_CACHE"

// CacheRoot is the folder under which pinned packages are installed.
func CacheRoot() (string, error) {
	if root := os.Getenv(EnvCache); root != "" {
		return root, nil
	}
	uc, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache folder (set %s): %w", EnvCache, err)
	}
	return filepath.Join(uc, "weave-agentd-e2e"), nil
}

// Spec is one pinned package.
type Spec struct {
	Package string // e.g. "@google/gemini-cli"
	Version string // exact version
	Dir     string // absolute install folder (the npm --prefix)
	// Args are extra `npm install` flags (e.g. "--omit=optional").
	Args []string
	// Find returns the entry point under an npm prefix, or an error when the
	// install there is missing or not the pinned version.
	Find func(prefix string) (string, error)
}

// Install returns spec.Find(spec.Dir), installing the package there first
// when needed. Concurrent callers (also in other processes) wait on
// <Dir>.lock; the install is built in a temp folder beside Dir and renamed
// into place, so a half-finished install is never used.
func Install(ctx context.Context, spec Spec) (string, error) {
	if p, err := spec.Find(spec.Dir); err == nil {
		return p, nil
	}
	if err := os.MkdirAll(filepath.Dir(spec.Dir), 0o755); err != nil {
		return "", err
	}
	unlock, err := Lock(ctx, spec.Dir+".lock")
	if err != nil {
		return "", err
	}
	defer unlock()
	// Someone else may have finished while we waited.
	if p, err := spec.Find(spec.Dir); err == nil {
		return p, nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", fmt.Errorf("npm not found (install Node.js and npm): %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(spec.Dir), "."+filepath.Base(spec.Dir)+"-install-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	ictx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	args := append([]string{"install", "--prefix", tmp, "--no-audit", "--no-fund", "--no-save",
		"--ignore-scripts", "--loglevel=error", "--fetch-retries=1"}, spec.Args...)
	cmd := exec.CommandContext(ictx, npm, append(args, spec.Package+"@"+spec.Version)...)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("npm install %s@%s: %w\n%s", spec.Package, spec.Version, err, out)
	}
	if _, err := spec.Find(tmp); err != nil {
		return "", fmt.Errorf("after npm install: %w\n%s", err, out)
	}
	if err := os.RemoveAll(spec.Dir); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, spec.Dir); err != nil {
		return "", err
	}
	return spec.Find(spec.Dir)
}
