package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/weave-agentd/weave-agentd/installer"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// installerSettings builds the installer's view of the world from a
// command's env. Tests replace it to inject a fake runner and service.
var installerSettings = func(e *env) installer.Settings {
	return installer.Settings{
		Getenv:     e.Getenv,
		Out:        e.Stdout,
		Logger:     e.logger(slog.LevelWarn),
		Executable: e.Args0,
	}
}

func newInstaller(e *env) (*installer.Installer, error) {
	return installer.New(installerSettings(e))
}

// headerFlags collects repeated --header K=V.
type headerFlags map[string]string

func (h headerFlags) String() string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

func (h headerFlags) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("%q: want NAME=VALUE, e.g. --header 'x-honeycomb-team=KEY'", s)
	}
	h[strings.TrimSpace(k)] = v
	return nil
}

type installOpts struct {
	agents       hookAgentFlags
	endpoint     string
	headers      headerFlags
	weaveProject string
	content      string
}

func installCommand() command {
	return command{
		Name:  "install",
		Usage: agentFlagsUsage() + " [--endpoint URL] [--header K=V]... [--weave-project ENTITY/PROJECT] [--content full|metadata]",
		Short: "set up the per-user service, the config and the agents' hooks (safe to re-run)",
		Long: `Sets weave-agentd up for your user, once; after it, tracing works at every login.

install
  1. copies weave-agentd and weave-agentd-hook (which must sit beside it) to a stable
     per-user folder (<state dir>/bin), so rebuilding or moving your checkout never breaks hooks;
  2. writes the config (0600): endpoint, headers, Weave project and key, content mode. The
     service does not see your shell, so WANDB_API_KEY and OTEL_EXPORTER_OTLP_* are saved there;
  3. installs and starts the per-user service (a systemd user unit on Linux, a LaunchAgent
     on macOS) and waits until the daemon answers;
  4. registers the hook client with the agents named by ` + hookAgentFlagList() + `, else with
     every agent found on this machine (its folder exists), in its user settings:
` + hookFilesTable("       ") + `
` + wrap("Only our entries are touched, and the previous file is kept as *.weave-agentd.bak. "+strings.Join(hookAgentNotes(), " "), "     ", 96) + `

It is idempotent: running it again updates everything in place and never duplicates an entry.
Without a per-user service manager (ssh or su without a login session, containers, headless
boxes without lingering) it still does 1, 2 and 4, then says what to run instead: hooks keep
their events in the inbox until a daemon runs, so nothing is lost.

Examples:
  # Weights & Biases Weave (key from WANDB_API_KEY or ~/.netrc)
  WANDB_API_KEY=... weave-agentd install --weave-project my-team/agents

  # Any OTLP/HTTP server: a local Jaeger, Tempo, an OpenTelemetry Collector ...
  weave-agentd install --endpoint http://localhost:4318/v1/traces

  # Honeycomb, with a header; metadata only (no prompts, answers or tool content)
  weave-agentd install --endpoint https://api.honeycomb.io/v1/traces \
      --header x-honeycomb-team=$HONEYCOMB_KEY --content metadata

  # Only Claude Code
  weave-agentd install --claude

Then check with 'weave-agentd status' and 'weave-agentd doctor'.`,
		Flags: func(fs *flag.FlagSet) any {
			o := &installOpts{agents: hookAgentFlags{}, headers: headerFlags{}}
			o.agents.register(fs, func(a transcript.Agent) string {
				return "register hooks for " + a.Title() + " (default: every agent found)"
			})
			fs.StringVar(&o.endpoint, "endpoint", "", "full OTLP/HTTP traces `URL`, e.g. http://localhost:4318/v1/traces")
			fs.Var(o.headers, "header", "extra request header `NAME=VALUE` (repeatable)")
			fs.StringVar(&o.weaveProject, "weave-project", "", "send to Weights & Biases Weave project `ENTITY/PROJECT`")
			fs.StringVar(&o.content, "content", "", "`full` (default) or metadata (no prompt, answer or tool content)")
			return o
		},
		NoArgs: true,
		Run: func(ctx context.Context, e *env, opts any, _ []string) error {
			o := opts.(*installOpts)
			switch o.content {
			case "", "full", "metadata":
			default:
				return usageError{fmt.Sprintf("--content %q: want full or metadata", o.content)}
			}
			in, err := newInstaller(e)
			if err != nil {
				return err
			}
			return in.Install(ctx, installer.Options{
				Agents:       o.agents.selected(),
				Endpoint:     o.endpoint,
				Headers:      o.headers,
				WeaveProject: o.weaveProject,
				Content:      o.content,
			})
		},
	}
}
