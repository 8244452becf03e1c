package main

import (
	"context"
)

func doctorCommand() command {
	return command{
		Name:  "doctor",
		Short: "check the whole setup and say what to fix",
		Long: `Checks, one line each ("ok|warn|FAIL  what  hint"):
  - the config is valid (and, holding credentials, private);
  - the binaries are installed;
  - the service is installed, enabled and running (and lingering, on Linux);
  - the daemon answers on its socket;
  - the hooks of each agent found are registered, for the events its version knows, and run
    this install's weave-agentd-hook;
  - the endpoint accepts OTLP: a real, empty export request is POSTed to it with the configured
    headers (401/403: credentials; 404: not the full .../v1/traces URL);
  - the spool exists, and the inbox is not piling up while the daemon is down;
  - Claude Code keeps transcripts long enough (cleanupPeriodDays) for them to be exported.

Exit 1 when a check FAILs (something needs you); warnings alone exit 0.

Example:
  weave-agentd doctor || journalctl --user -u weave-agentd -n 50`,
		NoArgs: true,
		Run: func(ctx context.Context, e *env, _ any, _ []string) error {
			in, err := newInstaller(e)
			if err != nil {
				return err
			}
			r := in.Doctor(ctx)
			r.WriteTo(e.Stdout)
			if r.Failed() {
				return silentExit(1)
			}
			return nil
		},
	}
}
