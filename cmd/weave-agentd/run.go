package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/weave-agentd/weave-agentd/daemon"
	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/hooks"
	"github.com/weave-agentd/weave-agentd/installer/config"
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

SIGHUP reloads the config; SIGINT or SIGTERM stop it gracefully.`,
		Run: func(ctx context.Context, e *env, _ any, _ []string) error {
			if e.Getenv("GOMEMLIMIT") == "" {
				debug.SetMemoryLimit(defaultMemoryLimit)
			}
			for {
				reload, err := runOnce(ctx, e)
				if err != nil || !reload {
					return err
				}
			}
		},
	}
}

// runOnce runs the daemon until ctx ends (reload=false) or SIGHUP (reload=true).
func runOnce(ctx context.Context, e *env) (bool, error) {
	paths, err := hooks.ResolvePaths(e.Getenv)
	if err != nil {
		return false, err
	}
	cfg, err := config.Load(paths.ConfigFile)
	if err != nil {
		return false, err
	}
	log := e.logger(parseLevel(cfg.LogLevel))
	target, err := cfg.ResolveTarget(config.Env{Getenv: e.Getenv, Home: e.Getenv("HOME")})
	if err != nil {
		return false, err
	}
	d, err := daemon.New(daemon.Settings{
		Paths: paths, Config: cfg, Target: target, Logger: log, Version: version,
		Builders: defaultBuilders(e.Getenv, cfg, log),
		Discover: []daemon.DiscoverRoot{{Agent: genai.AgentClaudeCode, Dir: filepath.Join(claudeHome(e.Getenv), "projects")}},
	})
	if err != nil {
		return false, err
	}
	if err := d.Start(ctx); err != nil {
		return false, err
	}
	if target.URL == "" {
		fmt.Fprintf(e.Stderr, "weave-agentd: no endpoint configured; writing OTLP/JSON to %s\n", daemon.SinkFile(paths.SinkDir))
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := false
	select {
	case <-ctx.Done():
	case <-hup:
		reload = true
		log.Info("SIGHUP: reloading the config")
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10e9)
	defer cancel()
	return reload, d.Shutdown(sctx)
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
