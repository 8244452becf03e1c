package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/weave-agentd/weave-agentd/installer"
	"github.com/weave-agentd/weave-agentd/transcript"
)

type hooksOpts struct {
	agents  hookAgentFlags
	project string
}

// register binds the flags to o, keeping what o already holds (the
// subcommand's flags may be parsed in a second pass).
func (o *hooksOpts) register(fs *flag.FlagSet) {
	o.agents.register(fs, func(a transcript.Agent) string { return a.Title() + " (" + hookFile(a, false) + ")" })
	var files []string
	for _, a := range installer.HookAgents() {
		files = append(files, a.Title()+": "+hookFile(a, true))
	}
	fs.StringVar(&o.project, "project", o.project, "project `DIR` instead of your user settings ("+strings.Join(files, "; ")+")")
}

func hooksCommand() command {
	return command{
		Name:  "hooks",
		Usage: "install|uninstall|status " + agentFlagsUsage() + " [--project DIR]",
		Short: "register, remove or inspect only the agents' hook entries",
		Long: `Edits only the agents' hook configs; the service and the config are left alone.

  install    registers weave-agentd-hook for every event we use. Existing entries of ours are
             replaced in place, also when they point at a binary that has moved.
  uninstall  removes our entries, and only those.
  status     shows, per agent, whether our hooks are registered, for which events, whether
             they run an existing weave-agentd-hook that is this install's, and whether the agent
             trusts them. Exit 1 when a selected (or installed) agent is not fully registered.

` + wrap(strings.Join(hookAgentNotes(), " "), "", 96) + `

` + wrap("Without "+hookAgentFlagList()+", install acts on the agents found on this machine ("+hookAgentHomes()+") and uninstall/status on all of them. The files keep every other key and hook; the previous version is saved as <file>.weave-agentd.bak; a file that is not valid JSON is refused and left untouched.", "", 96) + `

Examples:
  weave-agentd hooks status
  weave-agentd hooks install --claude
  weave-agentd hooks install --cursor --project ~/src/my-app    # that project only
  weave-agentd hooks uninstall --claude`,
		Flags: func(fs *flag.FlagSet) any {
			o := &hooksOpts{agents: hookAgentFlags{}}
			o.register(fs)
			return o
		},
		Run: func(ctx context.Context, e *env, opts any, args []string) error {
			o := opts.(*hooksOpts)
			if len(args) == 0 {
				return usageError{"which one: install, uninstall or status?"}
			}
			sub := args[0]
			// Flags may follow the subcommand: parse them into the same options.
			fs := flag.NewFlagSet("hooks "+sub, flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			o.register(fs)
			if err := fs.Parse(args[1:]); err != nil {
				return usageError{err.Error()}
			}
			if fs.NArg() > 0 {
				return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
			}
			in, err := newInstaller(e)
			if err != nil {
				return err
			}
			ho := installer.HookOptions{Agents: o.agents.selected(), Project: o.project}
			switch sub {
			case "install":
				return in.HooksInstall(ctx, ho)
			case "uninstall":
				return in.HooksUninstall(ctx, ho)
			case "status":
				return hooksStatus(ctx, e, in, ho)
			}
			return usageError{fmt.Sprintf("unknown subcommand %q: want install, uninstall or status", sub)}
		},
	}
}

func hooksStatus(ctx context.Context, e *env, in *installer.Installer, o installer.HookOptions) error {
	bad := false
	var errs []error
	sts, err := in.HooksStatus(ctx, o)
	if err != nil {
		return err
	}
	for _, s := range sts {
		fmt.Fprintln(e.Stdout, s.Line())
		if s.Err != nil {
			errs = append(errs, s.Err)
			continue
		}
		selected := len(o.Agents) > 0 || s.Installed
		if selected && !s.Works() {
			bad = true
		}
	}
	if len(errs) > 0 {
		return &exitError{code: 1, err: errors.Join(errs...)}
	}
	if bad {
		return silentExit(1)
	}
	return nil
}
