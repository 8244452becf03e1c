package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/weave-agentd/weave-agentd/config"
	"github.com/weave-agentd/weave-agentd/daemon"
	"github.com/weave-agentd/weave-agentd/hooks"
	"github.com/weave-agentd/weave-agentd/installer"
)

func serviceControlCommand(name, short, long string, do func(*installer.Installer, context.Context) error) command {
	return command{
		Name:   name,
		Short:  short,
		Long:   long,
		NoArgs: true,
		Run: func(ctx context.Context, e *env, _ any, _ []string) error {
			if name == "start" || name == "restart" {
				if err := checkConfigFile(e); err != nil {
					return fmt.Errorf("%w\nhint: fix the file first; nothing was %sed (a running daemon keeps the config it has)", err, name)
				}
			}
			in, err := newInstaller(e)
			if err != nil {
				return err
			}
			return do(in, ctx)
		},
	}
}

// checkConfigFile loads the config file as the daemon would at start, so
// that start and restart refuse a broken file instead of stopping a running
// daemon that cannot come back. The export target is not resolved: the
// service's environment is not this shell's.
func checkConfigFile(e *env) error {
	paths, err := hooks.ResolvePaths(e.Getenv)
	if err != nil {
		return err
	}
	cfg, err := config.Load(paths.ConfigFile)
	if err != nil {
		return err
	}
	if err := daemon.CheckConfig(daemon.Settings{Paths: paths, Config: cfg, Target: config.Target{URL: cfg.Endpoint}}); err != nil {
		return fmt.Errorf("config %s: %w", paths.ConfigFile, err)
	}
	return nil
}

func startCommand() command {
	return serviceControlCommand("start", "start the service and wait until the daemon answers", `
Starts the installed per-user service (systemctl --user start weave-agentd on Linux,
launchctl load on macOS) and waits until the daemon answers on its socket.

Example:
  weave-agentd start && weave-agentd status`, (*installer.Installer).Start)
}

func stopCommand() command {
	return serviceControlCommand("stop", "stop the service (hooks queue events until it runs again)", `
Stops the per-user service. Nothing is lost while it is stopped: the hooks keep events in the
inbox and the daemon takes them in when it starts again (at the next login, or with
'weave-agentd start'). To stop tracing altogether, use 'weave-agentd uninstall', or set
WEAVE_AGENTD_DISABLED=1 in the agent's environment.`, (*installer.Installer).Stop)
}

func restartCommand() command {
	return serviceControlCommand("restart", "restart the service (new binaries, new config)", `
Restarts the per-user service and waits until the daemon answers. A changed config only needs
a reload (the daemon rereads it on SIGHUP: systemctl --user reload weave-agentd); a restart
also picks up new binaries copied by 'weave-agentd install'.`, (*installer.Installer).Restart)
}

type uninstallOpts struct{ purge bool }

func uninstallCommand() command {
	return command{
		Name:  "uninstall",
		Usage: "[--purge]",
		Short: "remove the service, our hook entries and the installed binaries",
		Long: wrap("Stops and removes the per-user service, removes weave-agentd's entries (and only those) from the hook configs of "+andList(hookAgentTitles())+" (user scope and every project registered with 'hooks install --project'), and deletes the copied binaries.", "", 96) + `

The config and the state folder (spool with spans not yet exported, inbox, logs, local trace
files) are kept unless you pass --purge.

Examples:
  weave-agentd flush && weave-agentd uninstall    # export what is pending first
  weave-agentd uninstall --purge                  # leave nothing behind`,
		Flags: func(fs *flag.FlagSet) any {
			o := &uninstallOpts{}
			fs.BoolVar(&o.purge, "purge", false, "also delete the config and the state folder (spool, inbox, logs)")
			return o
		},
		NoArgs: true,
		Run: func(ctx context.Context, e *env, opts any, _ []string) error {
			in, err := newInstaller(e)
			if err != nil {
				return err
			}
			return in.Uninstall(ctx, opts.(*uninstallOpts).purge)
		},
	}
}
