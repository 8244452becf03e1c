package installer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/weave-agentd/weave-agentd/hooks/hookconfig"
	"github.com/weave-agentd/weave-agentd/transcript"
	_ "github.com/weave-agentd/weave-agentd/transcript/agents" // every agent
)

// HookOptions select agents and scope for hook registration.
type HookOptions struct {
	Claude, Cursor bool   // neither: the agents found on this machine
	Project        string // "" = user scope; else the project folder
}

func (in *Installer) hookEnv() hookconfig.Env {
	return hookconfig.Env{Home: in.s.Home, Getenv: in.s.Getenv}
}

// DetectAgents lists the agents installed for this user, with hooks to
// register: those whose home exists (Claude Code: $CLAUDE_CONFIG_DIR or
// ~/.claude; Cursor: ~/.cursor).
func (in *Installer) DetectAgents() []hookconfig.Agent {
	var out []hookconfig.Agent
	for _, a := range transcript.Agents() {
		if h := a.HookConfig(); h != "" && isDir(a.Home(in.s.Getenv, in.s.Home)) {
			out = append(out, h)
		}
	}
	return out
}

// hookHomes lists the homes of the agents with hooks, for messages.
func (in *Installer) hookHomes() []string {
	var homes []string
	for _, a := range transcript.Agents() {
		if a.HookConfig() != "" {
			homes = append(homes, a.Home(in.s.Getenv, in.s.Home))
		}
	}
	return homes
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func (in *Installer) agents(o HookOptions) (list []hookconfig.Agent, detected bool) {
	if o.Claude {
		list = append(list, hookconfig.Claude)
	}
	if o.Cursor {
		list = append(list, hookconfig.Cursor)
	}
	if len(list) > 0 {
		return list, false
	}
	return in.DetectAgents(), true
}

// ClaudeVersion asks the installed Claude Code for its version; the zero
// Version when it cannot be found or does not answer.
func (in *Installer) ClaudeVersion(ctx context.Context) (hookconfig.Version, string) {
	cands := []string{"claude"}
	for _, p := range []string{
		filepath.Join(hookconfig.ClaudeHome(in.hookEnv()), "local", "claude"), // the old "local" installer
		filepath.Join(in.s.Home, ".local", "bin", "claude"),                   // the native installer
	} {
		if fileExists(p) {
			cands = append(cands, p)
		}
	}
	for _, c := range cands {
		vctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		out, err := in.run(vctx, c, "--version")
		cancel()
		if err != nil {
			continue
		}
		if v, ok := hookconfig.ParseVersion(string(out)); ok {
			return v, c
		}
	}
	return hookconfig.Version{}, ""
}

// hookSpec is what we register for agent. The hook binary is the stable
// copy when installed, else the one beside the running executable.
func (in *Installer) hookSpec(ctx context.Context, agent hookconfig.Agent, quiet bool) (hookconfig.Spec, error) {
	spec := hookconfig.Spec{HookBinary: in.StableHook()}
	if !fileExists(spec.HookBinary) {
		_, src, err := in.sources()
		if err != nil {
			return spec, err
		}
		spec.HookBinary = src
		if !quiet {
			in.printf("note     %s is not installed yet; registering %s (run 'weave-agentd install' for a copy that survives moving or rebuilding it)", in.StableHook(), src)
		}
	}
	if h := in.agentdHome(); h != "" {
		// A GUI-started agent does not pass our environment on.
		spec.Env = map[string]string{"WEAVE_AGENTD_HOME": h}
	}
	if agent == hookconfig.Claude {
		v, from := in.ClaudeVersion(ctx)
		events, err := hookconfig.ClaudeEvents(v)
		if err != nil {
			return spec, err
		}
		spec.Events = events
		if quiet {
			return spec, nil
		}
		switch {
		case from == "":
			in.printf("note     Claude Code's version is unknown ('claude --version' did not answer): registering the events of a recent one")
		case v.Less(hookconfig.ClaudeUnknownEventsTolerated):
			in.printf("note     Claude Code %s: registering only the %d events it knows (older versions ignore a settings file with an unknown event)", v, len(events))
		}
	}
	return spec, nil
}

// registerHooks registers our hooks for the selected agents in one scope.
func (in *Installer) registerHooks(ctx context.Context, o HookOptions, fromInstall bool) error {
	agents, detected := in.agents(o)
	if len(agents) == 0 {
		in.printf("hooks    no agent found (none of %s exists); after installing one, run: weave-agentd hooks install --claude (or --cursor)",
			strings.Join(in.hookHomes(), ", "))
		if fromInstall {
			return nil
		}
		return errors.New("no agent to register hooks for: pass --claude or --cursor")
	}
	var errs []error
	for _, a := range agents {
		spec, err := in.hookSpec(ctx, a, false)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s hooks: %w", agentName(a), err))
			continue
		}
		path, err := hookconfig.Path(a, o.Project, in.hookEnv())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		res, err := hookconfig.Install(path, a, spec)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s hooks: %w", agentName(a), err))
			continue
		}
		how := "registered"
		if !res.Changed {
			how = "already registered"
		}
		if detected {
			how += " (found " + agentName(a) + ")"
		}
		in.printf("hooks    %s: %s %d events in %s", agentName(a), how, len(res.Events), path)
		if len(res.Stale) > 0 {
			in.printf("         replaced %d older entr(ies) of ours (e.g. %s)", len(res.Stale), res.Stale[0].Command)
		}
		if res.Backup != "" {
			in.printf("         previous version kept as %s", res.Backup)
		}
		if o.Project != "" {
			if err := in.rememberProject(o.Project, true); err != nil {
				in.s.Logger.Warn("cannot record the project", "err", err)
			}
		}
	}
	return errors.Join(errs...)
}

func agentName(a hookconfig.Agent) string {
	if a == hookconfig.Claude {
		return "Claude Code"
	}
	return "Cursor"
}

// HooksInstall registers the hooks only (no service, no config).
func (in *Installer) HooksInstall(ctx context.Context, o HookOptions) error {
	return in.registerHooks(ctx, o, false)
}

// HooksUninstall removes our hook entries for the selected agents (neither:
// both) in one scope.
func (in *Installer) HooksUninstall(ctx context.Context, o HookOptions) error {
	agents := []hookconfig.Agent{hookconfig.Claude, hookconfig.Cursor}
	if o.Claude || o.Cursor {
		agents, _ = in.agents(o)
	}
	var errs []error
	for _, a := range agents {
		if err := in.unregister(a, o.Project); err != nil {
			errs = append(errs, err)
		}
	}
	if o.Project != "" && o.Claude == o.Cursor { // both agents: forget the project
		in.rememberProject(o.Project, false)
	}
	return errors.Join(errs...)
}

func (in *Installer) unregister(a hookconfig.Agent, project string) error {
	path, err := hookconfig.Path(a, project, in.hookEnv())
	if err != nil {
		return err
	}
	if !fileExists(path) {
		return nil
	}
	res, err := hookconfig.Uninstall(path, a)
	if err != nil {
		return fmt.Errorf("%s hooks: %w", agentName(a), err)
	}
	if res.Changed {
		in.printf("hooks    %s: removed ours from %s (backup: %s)", agentName(a), path, res.Backup)
	} else {
		in.printf("hooks    %s: none of ours in %s", agentName(a), path)
	}
	return nil
}

func (in *Installer) unregisterAllHooks() error {
	var errs []error
	projects, _ := in.projects()
	for _, scope := range append([]string{""}, projects...) {
		for _, a := range []hookconfig.Agent{hookconfig.Claude, hookconfig.Cursor} {
			if scope != "" && !isDir(scope) {
				continue
			}
			if err := in.unregister(a, scope); err != nil {
				errs = append(errs, err)
			}
		}
	}
	os.Remove(in.projectsFile())
	return errors.Join(errs...)
}

// HookStatus is the registration state of one agent in one scope.
type HookStatus struct {
	Agent   hookconfig.Agent
	Project string // "" = user scope
	hookconfig.Status
	Installed bool  // the agent was found on this machine
	Err       error // the file could not be read or parsed
}

// Line is a one-line human summary.
func (s HookStatus) Line() string {
	scope := "user"
	if s.Project != "" {
		scope = "project " + s.Project
	}
	head := fmt.Sprintf("%-11s %-5s %s", agentName(s.Agent), scope, s.Path)
	if s.Err != nil {
		return head + ": " + s.Err.Error()
	}
	state := s.Summary()
	if s.Registered() {
		state = "registered, " + state + " → this install's " + s.Binaries[0]
	}
	return head + ": " + state
}

// HooksStatus reports, for each selected agent (neither: both) in one
// scope, whether our hooks are registered, for which events, and whether
// they run an existing binary that is this install's.
func (in *Installer) HooksStatus(ctx context.Context, o HookOptions) []HookStatus {
	agents := []hookconfig.Agent{hookconfig.Claude, hookconfig.Cursor}
	if o.Claude || o.Cursor {
		agents, _ = in.agents(o)
	}
	installed := in.DetectAgents()
	var out []HookStatus
	for _, a := range agents {
		hs := HookStatus{Agent: a, Project: o.Project, Installed: slices.Contains(installed, a)}
		spec, err := in.hookSpec(ctx, a, true)
		if err != nil {
			spec = hookconfig.Spec{HookBinary: in.StableHook()}
		}
		path, err := hookconfig.Path(a, o.Project, in.hookEnv())
		if err != nil {
			hs.Err = err
			out = append(out, hs)
			continue
		}
		st, err := hookconfig.Inspect(path, a, spec)
		hs.Status, hs.Err = st, err
		hs.Path = path
		out = append(out, hs)
	}
	return out
}

// Projects registered through 'hooks install --project' are remembered so
// that uninstall can remove their entries too.
func (in *Installer) projectsFile() string {
	return filepath.Join(in.paths.StateDir, "hook-projects")
}

func (in *Installer) projects() ([]string, error) {
	f, err := os.Open(in.projectsFile())
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out, sc.Err()
}

func (in *Installer) rememberProject(dir string, add bool) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	list, _ := in.projects()
	list = slices.DeleteFunc(list, func(s string) bool { return s == abs })
	if add {
		list = append(list, abs)
	}
	if err := os.MkdirAll(in.paths.StateDir, 0o700); err != nil {
		return err
	}
	body := strings.Join(list, "\n")
	if body != "" {
		body += "\n"
	}
	return os.WriteFile(in.projectsFile(), []byte(body), 0o600)
}
