// Package installer sets weave-agentd up for a user: it copies the two
// binaries to a stable per-user folder, writes config.toml, installs and
// controls the per-user OS service (a systemd user unit on Linux, a
// LaunchAgent on macOS, through kardianos/service), registers the hook client
// with Claude Code and Cursor, and diagnoses the result (Doctor).
//
// Everything it touches of the outside world comes in through Settings, so
// tests run it against a temporary HOME, a fake command runner and a fake
// service manager.
package installer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/kardianos/service"

	"github.com/weave-agentd/weave-agentd/hooks"
)

// Binary names.
const (
	DaemonBinary = "weave-agentd"
	HookBinary   = "weave-agentd-hook"
)

// Settings is the installer's view of the world.
type Settings struct {
	Home   string              // the user's home; "" = Getenv("HOME")
	Getenv func(string) string // nil = os.Getenv
	Runner Runner              // nil = ExecRunner
	Logger *slog.Logger        // diagnostics; nil = discarded
	Out    io.Writer           // progress for the user; nil = discarded
	// Executable is the running weave-agentd; weave-agentd-hook must sit
	// beside it. "" = os.Executable().
	Executable string
	// Prober tells whether the daemon answers; nil = connect to the socket.
	Prober StatusProber
	// StartTimeout bounds the wait for the daemon after a start; 0 = 15 s.
	StartTimeout time.Duration
	// NewService builds the OS service; nil = NewKardianosService.
	NewService func(*service.Config) (service.Service, error)
	// HTTPClient is used by Doctor's endpoint check; nil = built from the config.
	HTTPClient *http.Client
	// GOOS selects the service flavour; "" = runtime.GOOS.
	GOOS string
}

// Options are install's flags.
type Options struct {
	Agents       []string          // register hooks for these agents (names or aliases); none = those detected
	Endpoint     string            // full OTLP/HTTP traces URL
	Headers      map[string]string // extra request headers (merged into the config)
	WeaveProject string            // ENTITY/PROJECT
	Content      string            // full | metadata
}

// Installer performs installs, uninstalls and service control for one user.
type Installer struct {
	s              Settings
	paths          hooks.Paths
	defaultService bool
}

// New checks the settings and resolves the paths.
func New(s Settings) (*Installer, error) {
	if s.Getenv == nil {
		s.Getenv = os.Getenv
	}
	if s.Home == "" {
		s.Home = s.Getenv("HOME")
	}
	if s.Home == "" {
		return nil, errors.New("HOME is not set")
	}
	if s.Runner == nil {
		s.Runner = ExecRunner{}
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.Out == nil {
		s.Out = io.Discard
	}
	if s.Executable == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("cannot tell where weave-agentd runs from: %w", err)
		}
		s.Executable = exe
	}
	if s.StartTimeout == 0 {
		s.StartTimeout = 15 * time.Second
	}
	if s.GOOS == "" {
		s.GOOS = runtime.GOOS
	}
	in := &Installer{s: s}
	if s.NewService == nil {
		in.s.NewService = NewKardianosService
		in.defaultService = true
	}
	getenv := s.Getenv
	home := s.Home
	p, err := hooks.ResolvePaths(func(k string) string {
		if k == "HOME" {
			return home
		}
		return getenv(k)
	})
	if err != nil {
		return nil, err
	}
	in.paths = p
	if in.s.Prober == nil {
		in.s.Prober = SocketProber(p.Socket)
	}
	return in, nil
}

// Paths are weave-agentd's files for this user.
func (in *Installer) Paths() hooks.Paths { return in.paths }

// BinDir is the stable folder the binaries are copied to: <state dir>/bin,
// so upgrades and moved checkouts never break the registered hooks.
func (in *Installer) BinDir() string { return filepath.Join(in.paths.StateDir, "bin") }

// StableExecutable is the installed weave-agentd that the service runs.
func (in *Installer) StableExecutable() string { return filepath.Join(in.BinDir(), DaemonBinary) }

// StableHook is the installed weave-agentd-hook that the agents run.
func (in *Installer) StableHook() string { return filepath.Join(in.BinDir(), HookBinary) }

func (in *Installer) printf(format string, args ...any) {
	fmt.Fprintf(in.s.Out, format+"\n", args...)
}

func (in *Installer) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	out, err := in.s.Runner.Run(ctx, name, args...)
	in.s.Logger.Debug("ran", "argv", strings.Join(append([]string{name}, args...), " "), "err", err)
	return out, err
}

// home returns WEAVE_AGENTD_HOME when the user set it.
func (in *Installer) agentdHome() string {
	if in.s.Getenv("WEAVE_AGENTD_HOME") == "" {
		return ""
	}
	return in.paths.StateDir // absolute, as ResolvePaths made it
}

// Install sets everything up; running it again updates, never duplicates.
// When there is no per-user service manager it still writes the config,
// copies the binaries and registers the hooks, then returns a
// *ServiceUnavailableError saying what to run instead.
func (in *Installer) Install(ctx context.Context, o Options) error {
	if u := in.s.Getenv("SUDO_USER"); u != "" && u != "root" && os.Geteuid() == 0 {
		return fmt.Errorf("install runs through sudo: it would set weave-agentd up for root, not for %s. Run it as %s, without sudo (it needs no privileges)", u, u)
	}
	srcExe, srcHook, err := in.sources()
	if err != nil {
		return err
	}
	cfg, err := in.prepareConfig(o)
	if err != nil {
		return err
	}
	if err := in.copyBinaries(srcExe, srcHook); err != nil {
		return err
	}
	if err := cfg.save(in); err != nil {
		return err
	}
	svcErr := in.installService(ctx)
	hookErr := in.registerHooks(ctx, HookOptions{Agents: o.Agents}, true)
	var unavailable *ServiceUnavailableError
	switch {
	case errors.As(svcErr, &unavailable):
		in.printf("\nThe config, the binaries and the hooks are in place. Until a daemon runs, the hooks keep\ntheir events in %s; the daemon takes them in when it starts, so nothing is lost.", in.paths.Inbox)
	case svcErr == nil && hookErr == nil:
		in.printf("\nDone. Check with:  weave-agentd status   (and weave-agentd doctor for a full check)")
	}
	return errors.Join(svcErr, hookErr)
}

// Uninstall stops and removes the service, removes our hook entries (user
// scope and every project registered through this install) and the copied
// binaries. With purge it also deletes the state folder (spool, inbox, logs,
// local trace files) and the config file.
func (in *Installer) Uninstall(ctx context.Context, purge bool) error {
	var errs []error
	if err := in.uninstallService(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := in.unregisterAllHooks(); err != nil {
		errs = append(errs, err)
	}
	for _, p := range []string{in.StableExecutable(), in.StableHook()} {
		if err := os.Remove(p); err == nil {
			in.printf("removed  %s", p)
		} else if !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	os.Remove(in.BinDir()) // only when empty
	if !purge {
		in.printf("kept     %s (config) and %s (spool, inbox, logs); 'weave-agentd uninstall --purge' deletes them", in.paths.ConfigFile, in.paths.StateDir)
		return errors.Join(errs...)
	}
	if err := in.purge(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (in *Installer) purge() error {
	state := filepath.Clean(in.paths.StateDir)
	home := filepath.Clean(in.s.Home)
	if state == "/" || state == home || !strings.HasPrefix(state, "/") || len(state) < 5 {
		return fmt.Errorf("refusing to delete %s: it does not look like weave-agentd's own folder", state)
	}
	var errs []error
	if err := os.RemoveAll(state); err != nil {
		errs = append(errs, err)
	} else {
		in.printf("deleted  %s", state)
	}
	for _, p := range []string{in.paths.ConfigFile, in.paths.ConfigFile + ".bak"} {
		if err := os.Remove(p); err == nil {
			in.printf("deleted  %s", p)
		} else if !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	os.Remove(filepath.Dir(in.paths.ConfigFile)) // only when empty
	// The /tmp fallback folder, only when it is ours (not another user's).
	if !strings.HasPrefix(in.paths.Socket, state+string(filepath.Separator)) && hooks.CheckPrivateDir(filepath.Dir(in.paths.Socket), "socket folder") == nil {
		os.Remove(in.paths.Socket)
		os.Remove(filepath.Dir(in.paths.Socket))
	}
	return errors.Join(errs...)
}
