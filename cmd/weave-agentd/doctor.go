package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/weave-agentd/weave-agentd/control"
	"github.com/weave-agentd/weave-agentd/hooks"
	"github.com/weave-agentd/weave-agentd/installer"
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
  - the daemon's own exports work: spans are not waiting behind failed exports (the HTTP
    status and what to do, e.g. when the server refuses spans an empty request gets through);
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
			if c, ok := exportCheck(e); ok {
				r.Checks = append(r.Checks, c)
			}
			r.WriteTo(e.Stdout)
			if r.Failed() {
				return silentExit(1)
			}
			return nil
		},
	}
}

// exportCheck asks the running daemon how its exports go; ok is false when
// no daemon answers (the socket check already says so).
func exportCheck(e *env) (installer.Check, bool) {
	resp, _, err := call(e, hooks.OpStatus, nil, 2*time.Second)
	if err != nil {
		return installer.Check{}, false
	}
	var st control.Status
	if err := json.Unmarshal(resp.Body, &st); err != nil {
		return installer.Check{Level: installer.Warn, What: "daemon status: " + err.Error(), Hint: "weave-agentd restart (is the daemon older than this client?)"}, true
	}
	if !st.ExportHealthy {
		what := fmt.Sprintf("exports are failing; %d span(s) wait in the spool", st.Spool.Depth)
		if st.FailingSince != nil {
			what = fmt.Sprintf("exports have failed since %s; %d span(s) wait in the spool", st.FailingSince.Local().Format(time.DateTime), st.Spool.Depth)
		}
		hint := "weave-agentd status"
		if ee := st.ExportError; ee != nil {
			what += ": " + ee.Message
			if ee.Hint != "" {
				hint = ee.Hint
			}
		}
		return installer.Check{Level: installer.Fail, What: what, Hint: hint}, true
	}
	what := fmt.Sprintf("daemon exports work (%d span(s) exported, %d waiting)", st.Counters["exported"], st.Spool.Depth)
	if st.Spool.DeadLetters > 0 {
		return installer.Check{Level: installer.Warn, What: what + fmt.Sprintf("; %d dead letter(s): spans the server refused for good", st.Spool.DeadLetters),
			Hint: "weave-agentd deadletters list"}, true
	}
	return installer.Check{Level: installer.OK, What: what}, true
}
