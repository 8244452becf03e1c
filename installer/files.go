package installer

import (
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/weave-agentd/weave-agentd/config"
)

// sources finds the two binaries to install: the running weave-agentd and
// the weave-agentd-hook beside it.
func (in *Installer) sources() (exe, hook string, err error) {
	exe = in.s.Executable
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	hook = filepath.Join(filepath.Dir(exe), HookBinary)
	if fi, err := os.Stat(hook); err != nil || fi.IsDir() {
		return "", "", &MissingHookBinaryError{Dir: filepath.Dir(exe)}
	}
	return exe, hook, nil
}

// MissingHookBinaryError: weave-agentd-hook is not beside weave-agentd.
type MissingHookBinaryError struct{ Dir string }

func (e *MissingHookBinaryError) Error() string {
	return fmt.Sprintf(`weave-agentd-hook was not found next to weave-agentd (in %s).
The two binaries belong together: the agents run weave-agentd-hook on every event.
  - from a release: unpack both files from the archive into the same folder;
  - from source: go build -o %s/ ./cmd/weave-agentd ./cmd/weave-agentd-hook
then run 'weave-agentd install' again. Nothing was changed.`, e.Dir, e.Dir)
}

// copyBinaries puts both binaries into BinDir atomically (a temporary file
// renamed over the old one), so a running daemon or hook keeps its old copy
// intact and a concurrent hook never sees half a file.
func (in *Installer) copyBinaries(srcExe, srcHook string) error {
	if err := os.MkdirAll(in.paths.StateDir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", in.paths.StateDir, err)
	}
	if err := os.MkdirAll(in.BinDir(), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", in.BinDir(), err)
	}
	for _, c := range []struct{ src, dst string }{{srcExe, in.StableExecutable()}, {srcHook, in.StableHook()}} {
		same, err := copyExecutable(c.src, c.dst)
		if err != nil {
			return fmt.Errorf("install %s: %w", filepath.Base(c.dst), err)
		}
		if same {
			in.printf("binary   %s (already running from there)", c.dst)
		} else {
			in.printf("binary   %s", c.dst)
		}
	}
	return nil
}

func copyExecutable(src, dst string) (same bool, err error) {
	si, err := os.Stat(src)
	if err != nil {
		return false, err
	}
	if di, err := os.Stat(dst); err == nil && os.SameFile(si, di) {
		return true, nil
	}
	in, err := os.Open(src)
	if err != nil {
		return false, err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+"-*")
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Close(); err != nil {
		return false, err
	}
	return false, os.Rename(tmp.Name(), dst)
}

// plannedConfig is the config install will write.
type plannedConfig struct {
	cfg     *config.Config
	old     *config.Config
	exists  bool
	changed bool
	notes   []string
}

// prepareConfig merges the flags into the existing config (without
// defaults, so only what the user or a flag set is written) and checks that
// the result can export. Nothing is written yet.
func (in *Installer) prepareConfig(o Options) (*plannedConfig, error) {
	path := in.paths.ConfigFile
	old, exists, err := config.LoadRaw(path)
	if err != nil {
		return nil, fmt.Errorf("%w\nFix the file (or move it away), then run install again; nothing was changed", err)
	}
	cfg := *old
	cfg.Headers = maps.Clone(old.Headers)
	pc := &plannedConfig{old: old, exists: exists}
	if o.Endpoint != "" {
		cfg.Endpoint = o.Endpoint
	}
	if len(o.Headers) > 0 {
		if cfg.Headers == nil {
			cfg.Headers = map[string]string{}
		}
		maps.Copy(cfg.Headers, o.Headers)
	}
	if o.Content != "" {
		cfg.Content = o.Content
	}
	if o.WeaveProject != "" {
		cfg.WeaveProject = o.WeaveProject
		// The service does not see the shell: keep the key in the config (0600).
		if key := in.s.Getenv("WANDB_API_KEY"); key != "" {
			cfg.WeaveAPIKey = key
			pc.notes = append(pc.notes, "WANDB_API_KEY from your shell saved as weave_api_key")
		}
	}
	if cfg.Endpoint == "" && cfg.WeaveProject == "" {
		// Standard OTEL_* variables in the shell would be invisible to the
		// service: write what they resolve to.
		t, err := cfg.ResolveTarget(config.Env{Getenv: in.s.Getenv, Home: in.s.Home})
		if err == nil && strings.HasPrefix(t.Source, "OTEL_") {
			cfg.Endpoint = t.URL
			if len(t.Headers) > 0 {
				if cfg.Headers == nil {
					cfg.Headers = map[string]string{}
				}
				for k, v := range t.Headers {
					if _, set := cfg.Headers[k]; !set {
						cfg.Headers[k] = v
					}
				}
			}
			pc.notes = append(pc.notes, t.Source+" from your shell saved as endpoint (the service does not see your shell)")
			if cfg.Compression == "" && t.Compression != config.CompressionGzip {
				cfg.Compression = t.Compression
				pc.notes = append(pc.notes, "OTEL_EXPORTER_OTLP_*COMPRESSION from your shell saved as compression")
			}
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w; nothing was changed", err)
	}
	if cfg.WeaveProject != "" && cfg.Endpoint == "" {
		// The daemon finds the key in weave_api_key or ~/.netrc, never in
		// the shell: check now rather than fail silently later.
		noShell := func(k string) string {
			if k == "WANDB_API_KEY" {
				return ""
			}
			return in.s.Getenv(k)
		}
		if _, err := cfg.ResolveTarget(config.Env{Getenv: noShell, Home: in.s.Home}); err != nil {
			return nil, fmt.Errorf("%w; nothing was changed", err)
		}
	}
	pc.cfg = &cfg
	pc.changed = !exists || !reflect.DeepEqual(normalize(old), normalize(&cfg))
	return pc, nil
}

func normalize(c *config.Config) config.Config {
	n := *c
	if len(n.Headers) == 0 {
		n.Headers = nil
	}
	return n
}

func (pc *plannedConfig) save(in *Installer) error {
	path := in.paths.ConfigFile
	target := "local OTLP/JSON files under " + in.paths.SinkDir
	switch {
	case pc.cfg.Endpoint != "":
		target = pc.cfg.Endpoint
	case pc.cfg.WeaveProject != "":
		target = "Weave project " + pc.cfg.WeaveProject
	}
	if !pc.changed {
		in.printf("config   %s unchanged (exports to %s)", path, target)
		return nil
	}
	if pc.exists {
		// Save re-encodes the file: keep the user's version (and comments).
		if b, err := os.ReadFile(path); err == nil {
			if err := os.WriteFile(path+".bak", b, 0o600); err != nil {
				return fmt.Errorf("back up config: %w", err)
			}
		}
	}
	if err := config.SaveSparse(path, pc.cfg); err != nil {
		return err
	}
	in.printf("config   %s (exports to %s)", path, target)
	for _, n := range pc.notes {
		in.printf("         %s", n)
	}
	if pc.exists {
		in.printf("         previous version kept as %s.bak", path)
	}
	return nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
