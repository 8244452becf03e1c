// Package npmcache installs a pinned npm package once into the end-to-end
// tests' shared cache, so every test, test process and CI run reuses one copy
// (agent CLIs weigh hundreds of MB).
package npmcache

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// EnvCache overrides the cache root.
const EnvCache = "WEAVE_E2E_CACHE"

// Root is the cache root: $WEAVE_E2E_CACHE, else <user cache dir>/weave-agentd-e2e.
func Root() (string, error) {
	if root := os.Getenv(EnvCache); root != "" {
		return root, nil
	}
	uc, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache dir (set %s): %w", EnvCache, err)
	}
	return filepath.Join(uc, "weave-agentd-e2e"), nil
}

// Package is one pinned install.
type Package struct {
	// Spec is what npm installs, e.g. "@openai/codex@0.171.0".
	Spec string
	// Dir is the npm prefix the install lives in (inside Root).
	Dir string
	// Find returns the usable binary under a prefix, or an error when the
	// install there is missing or broken (it should check the version).
	Find func(prefix string) (string, error)
}

// Install returns p.Find(p.Dir), installing p.Spec first when that fails.
// The install is built in a temp dir beside p.Dir and renamed into place
// under an flock on p.Dir+".lock", so parallel test processes never race and
// a half-finished install is never used. npm inherits the caller's
// environment (registry, proxy and CA settings) and runs with
// --ignore-scripts: the native binaries come in platform packages, which are
// optional dependencies (hence --include=optional).
func Install(ctx context.Context, p Package) (string, error) {
	if b, err := p.Find(p.Dir); err == nil {
		return b, nil
	}
	if err := os.MkdirAll(filepath.Dir(p.Dir), 0o755); err != nil {
		return "", err
	}
	unlock, err := lockFile(ctx, p.Dir+".lock")
	if err != nil {
		return "", err
	}
	defer unlock()
	// Someone else may have finished while we waited.
	if b, err := p.Find(p.Dir); err == nil {
		return b, nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", fmt.Errorf("npm not found (install Node.js and npm): %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(p.Dir), "."+filepath.Base(p.Dir)+"-install-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	ictx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ictx, npm, "install", "--prefix", tmp, "--no-audit", "--no-fund",
		"--no-save", "--ignore-scripts", "--include=optional", "--loglevel=error", "--fetch-retries=1", p.Spec)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("npm install %s: %w\n%s", p.Spec, err, out)
	}
	if _, err := p.Find(tmp); err != nil {
		return "", fmt.Errorf("after npm install %s: %w\n%s", p.Spec, err, out)
	}
	if err := os.RemoveAll(p.Dir); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, p.Dir); err != nil {
		return "", err
	}
	return p.Find(p.Dir)
}
