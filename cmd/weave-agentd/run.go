package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/weave-agentd/weave-agentd/config"
	"github.com/weave-agentd/weave-agentd/daemon"
	"github.com/weave-agentd/weave-agentd/hooks"
)

// defaultMemoryLimit is the daemon's soft Go heap limit unless GOMEMLIMIT
// sets one: a daemon on a laptop should stay small, and near the limit the
// GC simply works harder (a 256 MB backfill: peak RSS 137 → 80 MB for about
// 12% of its speed; see BENCHMARKS.md). It is soft: a larger live heap is
// never refused.
const defaultMemoryLimit = 64 << 20

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func runCommand() command {
	return command{
		Name:  "run",
		Usage: "",
		Short: "run the daemon in the foreground (what the service runs)",
		Long: `Runs the daemon in the foreground: it listens on the socket the hooks talk to,
tails the agents' transcripts, spools spans durably and exports them.

With no endpoint configured it writes OTLP/JSON lines to a local file under the
state folder ('weave-agentd status' shows where), so it is useful out of the box.
Point it at a server with the config file, 'weave-agentd install --endpoint URL',
or the standard OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT.

SIGHUP reloads the config. A file that does not load is refused: the error (file,
line, key) is logged, 'weave-agentd status' shows it, and the daemon runs on with the
config it had. Started on a broken config, it exits with status 78 (EX_CONFIG), on
which the service does not restart it. SIGINT or SIGTERM stop it gracefully.`,
		Run: func(ctx context.Context, e *env, _ any, _ []string) error {
			if e.Getenv("GOMEMLIMIT") == "" {
				debug.SetMemoryLimit(defaultMemoryLimit)
			}
			// Before anything else: SIGHUP's default action ends the process.
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			paths, err := hooks.ResolvePaths(e.Getenv)
			if err != nil {
				return err
			}
			rc, err := loadRunConfig(e, paths)
			if err != nil {
				// No running config to keep. The service does not restart on
				// this exit code (RestartPreventExitStatus): it would fail the
				// same way every two seconds.
				return &exitError{code: exitConfig, err: fmt.Errorf("%w\nhint: fix %s, then 'weave-agentd start' (hooks keep events in their inbox meanwhile)", err, paths.ConfigFile)}
			}
			for rc != nil {
				if rc, err = runOnce(ctx, e, paths, rc, hup); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

// exitConfig is run's exit code when the config cannot be loaded at start
// (EX_CONFIG of sysexits.h); the systemd unit does not restart on it.
const exitConfig = 78

// runConfig is a loaded and checked config and the export target it resolves to.
type runConfig struct {
	cfg    *config.Config
	target config.Target
}

// loadRunConfig loads the config file and checks everything the daemon's
// start depends on, so that a reload can refuse a bad file before it stops
// the daemon running on the good one.
func loadRunConfig(e *env, paths hooks.Paths) (*runConfig, error) {
	cfg, err := config.Load(paths.ConfigFile)
	if err != nil {
		return nil, err
	}
	target, err := cfg.ResolveTarget(config.Env{Getenv: e.Getenv, Home: e.Getenv("HOME")})
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", paths.ConfigFile, err)
	}
	if err := daemon.CheckConfig(daemon.Settings{Paths: paths, Config: cfg, Target: target}); err != nil {
		return nil, fmt.Errorf("config %s: %w", paths.ConfigFile, err)
	}
	return &runConfig{cfg: cfg, target: target}, nil
}

// runOnce runs the daemon on rc until ctx ends (next = nil) or a SIGHUP
// brings a config that loads (next). A config that does not load is logged
// and shown in status, and the daemon runs on with rc.
func runOnce(ctx context.Context, e *env, paths hooks.Paths, rc *runConfig, hup <-chan os.Signal) (next *runConfig, err error) {
	log := e.logger(parseLevel(rc.cfg.LogLevel))
	homes := agentHomes(e.Getenv)
	builders, err := defaultBuilders(homes, rc.cfg, log)
	if err != nil {
		return nil, err
	}
	d, err := daemon.New(daemon.Settings{
		Paths: paths, Config: rc.cfg, Target: rc.target, Logger: log, Version: version,
		Builders: builders, HookAgents: hookAgents(), Discover: discoverRoots(homes), AgentHomes: homes,
	})
	if err != nil {
		return nil, err
	}
	if err := d.Start(ctx); err != nil {
		return nil, err
	}
	if rc.target.URL == "" {
		fmt.Fprintf(e.Stderr, "weave-agentd: no endpoint configured; writing OTLP/JSON to %s\n", daemon.SinkFile(paths.SinkDir))
	}
	for next == nil {
		select {
		case <-ctx.Done():
			return nil, shutdown(d)
		case <-hup:
			log.Info("SIGHUP: reloading the config", "file", paths.ConfigFile)
			if next, err = loadRunConfig(e, paths); err != nil {
				d.ReloadFailed(err)
			}
		}
	}
	return next, shutdown(d)
}

func shutdown(d *daemon.Daemon) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return d.Shutdown(ctx)
}

func parseLevel(s string) slog.Level {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

func versionCommand() command {
	return command{
		Name:  "version",
		Short: "print the version",
		Long:  "Prints weave-agentd's version.",
		Run: func(_ context.Context, e *env, _ any, _ []string) error {
			fmt.Fprintf(e.Stdout, "weave-agentd %s\n", version)
			return nil
		},
	}
}
