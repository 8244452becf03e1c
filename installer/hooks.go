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
	// Agents are the agents to act on, by name or alias ("claude",
	// "cursor", as transcript.AgentNamed takes them). None: install acts
	// on the agents found on this machine, uninstall and status on every
	// agent with hooks.
	Agents  []string
	Project string // "" = user scope; else the project folder
}

// agentHome is the folder where the agent keeps its files for this user.
func (in *Installer) agentHome(a transcript.Agent) string { return a.Home(in.s.Getenv, in.s.Home) }

// HookAgents are the registered agents whose hooks we register, sorted by
// name.
func HookAgents() []transcript.Agent {
	var out []transcript.Agent
	for _, a := range transcript.Agents() {
		if a.HookConfig().Name != "" {
			out = append(out, a)
		}
	}
	return out
}

// DetectAgents lists the agents installed for this user, with hooks to
// register: those whose home exists (Claude Code: $CLAUDE_CONFIG_DIR or
// ~/.claude; Cursor: ~/.cursor).
func (in *Installer) DetectAgents() []transcript.Agent {
	var out []transcript.Agent
	for _, a := range HookAgents() {
		if isDir(in.agentHome(a)) {
			out = append(out, a)
		}
	}
	return out
}

// hookHomes lists the homes of the agents with hooks, for messages.
func (in *Installer) hookHomes() []string {
	var homes []string
	for _, a := range HookAgents() {
		homes = append(homes, in.agentHome(a))
	}
	return homes
}

// agentFlags are the flags that select agents: --claude, --cursor …
func agentFlags() []string {
	var flags []string
	for _, a := range HookAgents() {
		flags = append(flags, "--"+a.HookConfig().Name)
	}
	return flags
}

// hookFlags is "--claude or --cursor".
func hookFlags() string {
	flags := agentFlags()
	if len(flags) < 2 {
		return strings.Join(flags, "")
	}
	return strings.Join(flags[:len(flags)-1], ", ") + " or " + flags[len(flags)-1]
}

// hookFlagsExample is "--claude (or --cursor)".
func hookFlagsExample() string {
	flags := agentFlags()
	if len(flags) < 2 {
		return strings.Join(flags, "")
	}
	return flags[0] + " (or " + strings.Join(flags[1:], ", ") + ")"
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// selected resolves o.Agents, in the registry's order; nil when o names
// none.
func selected(o HookOptions) ([]transcript.Agent, error) {
	var bad []string
	want := map[string]bool{}
	for _, n := range o.Agents {
		a, ok := transcript.AgentNamed(n)
		if !ok || a.HookConfig().Name == "" {
			bad = append(bad, n)
			continue
		}
		want[a.Name()] = true
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("no agent with hooks named %s: pass %s", strings.Join(bad, ", "), hookFlags())
	}
	var list []transcript.Agent
	for _, a := range HookAgents() {
		if want[a.Name()] {
			list = append(list, a)
		}
	}
	return list, nil
}

// agents are the agents o selects, else those found on this machine.
func (in *Installer) agents(o HookOptions) (list []transcript.Agent, detected bool, err error) {
	if len(o.Agents) > 0 {
		list, err = selected(o)
		return list, false, err
	}
	return in.DetectAgents(), true, nil
}

// agentsOrAll are the agents o selects, else every agent with hooks.
func agentsOrAll(o HookOptions) ([]transcript.Agent, error) {
	if len(o.Agents) > 0 {
		return selected(o)
	}
	return HookAgents(), nil
}

// AgentVersion asks the installed agent for its version, as its
// hookconfig.VersionProbe says (the zero Version when it has none, cannot
// be found or does not answer), and the command that answered.
func (in *Installer) AgentVersion(ctx context.Context, a transcript.Agent) (hookconfig.Version, string) {
	probe := a.HookConfig().Version
	if probe == nil || len(probe.Args) == 0 {
		return hookconfig.Version{}, ""
	}
	cands := []string{probe.Args[0]}
	if probe.Installs != nil {
		for _, p := range probe.Installs(in.agentHome(a), in.s.Home) {
			if filepath.IsAbs(p) && fileExists(p) {
				cands = append(cands, p)
			}
		}
	}
	for _, c := range cands {
		vctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		out, err := in.run(vctx, c, probe.Args[1:]...)
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

// hookSpec is what we register for agent a. The hook binary is the stable
// copy when installed, else the one beside the running executable. For an
// agent whose events depend on its version, its events are those the
// installed version knows.
func (in *Installer) hookSpec(ctx context.Context, a transcript.Agent, quiet bool) (hookconfig.Spec, error) {
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
	h := a.HookConfig()
	if h.Version == nil {
		return spec, nil
	}
	v, from := in.AgentVersion(ctx, a)
	events, err := hookconfig.Events(h, v)
	if err != nil {
		return spec, err
	}
	spec.Events = events
	if quiet {
		return spec, nil
	}
	if from == "" {
		in.printf("note     %s's version is unknown ('%s' did not answer): registering the events of a recent one", a.Title(), strings.Join(h.Version.Args, " "))
		return spec, nil
	}
	if all, err := hookconfig.Events(h, hookconfig.Version{}); err == nil && len(events) < len(all) {
		why := ""
		if h.Version.Older != "" {
			why = " (" + h.Version.Older + ")"
		}
		in.printf("note     %s %s: registering only the %d events it knows%s", a.Title(), v, len(events), why)
	}
	return spec, nil
}

// registerHooks registers our hooks for the selected agents in one scope.
func (in *Installer) registerHooks(ctx context.Context, o HookOptions, fromInstall bool) error {
	agents, detected, err := in.agents(o)
	if err != nil {
		return err
	}
	if len(agents) == 0 {
		in.printf("hooks    no agent found (none of %s exists); after installing one, run: weave-agentd hooks install %s",
			strings.Join(in.hookHomes(), ", "), hookFlagsExample())
		if fromInstall {
			return nil
		}
		return errors.New("no agent to register hooks for: pass " + hookFlags())
	}
	var errs []error
	for _, a := range agents {
		h := a.HookConfig()
		spec, err := in.hookSpec(ctx, a, false)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s hooks: %w", a.Title(), err))
			continue
		}
		path, err := hookconfig.Path(h, in.agentHome(a), o.Project)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		res, err := hookconfig.Install(path, h, spec)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s hooks: %w", a.Title(), err))
			continue
		}
		how := "registered"
		if !res.Changed {
			how = "already registered"
		}
		if detected {
			how += " (found " + a.Title() + ")"
		}
		in.printf("hooks    %s: %s %d events in %s", a.Title(), how, len(res.Events), path)
		if len(res.Stale) > 0 {
			in.printf("         replaced %d older entr(ies) of ours (e.g. %s)", len(res.Stale), res.Stale[0].Command)
		}
		if res.Backup != "" {
			in.printf("         previous version kept as %s", res.Backup)
		}
		in.trustHooks(ctx, a, path, o.Project, spec)
		if o.Project != "" {
			if err := in.rememberProject(o.Project, true); err != nil {
				in.s.Logger.Warn("cannot record the project", "err", err)
			}
		}
	}
	return errors.Join(errs...)
}

// trustTimeout bounds recording an agent's trust in our hooks (it runs
// the agent: Codex's app-server).
const trustTimeout = time.Minute

// hookFile describes the hook settings file of agent a holding our
// handlers, which run command (as the file holds it), for a
// transcript.HookTruster.
func (in *Installer) hookFile(a transcript.Agent, path, project, command string) transcript.HookFile {
	flag := "--" + a.HookConfig().Name
	if project != "" {
		flag += " --project " + project
	}
	return transcript.HookFile{Home: in.agentHome(a), Path: path, Project: project, Command: command,
		Getenv: in.s.Getenv, Flag: flag, Logger: in.s.Logger}
}

// trustHooks records, for an agent that runs only hooks the user trusted,
// that ours are. A failure leaves the hooks registered and says how to
// trust them: the install itself succeeded.
func (in *Installer) trustHooks(ctx context.Context, a transcript.Agent, path, project string, spec hookconfig.Spec) {
	t, ok := a.(transcript.HookTruster)
	if !ok {
		return
	}
	// Our handlers' command exactly as written (the agent's own arguments
	// included): only handlers that run it are trusted.
	st, err := hookconfig.Inspect(path, a.HookConfig(), spec)
	if err != nil || len(st.Entries) == 0 {
		in.printf("warn     %s: cannot read back our hooks to trust them: %v", a.Title(), err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, trustTimeout)
	defer cancel()
	msg, err := t.TrustHooks(ctx, in.hookFile(a, path, project, st.Entries[0].Command))
	if err != nil {
		in.printf("warn     %s: %v", a.Title(), err)
		return
	}
	in.printf("         %s", msg)
}

// HooksInstall registers the hooks only (no service, no config).
func (in *Installer) HooksInstall(ctx context.Context, o HookOptions) error {
	return in.registerHooks(ctx, o, false)
}

// HooksUninstall removes our hook entries for the selected agents (none:
// every agent with hooks) in one scope.
func (in *Installer) HooksUninstall(ctx context.Context, o HookOptions) error {
	agents, err := agentsOrAll(o)
	if err != nil {
		return err
	}
	var errs []error
	for _, a := range agents {
		if err := in.unregister(a, o.Project); err != nil {
			errs = append(errs, err)
		}
	}
	if o.Project != "" && len(agents) == len(HookAgents()) { // every agent: forget the project
		in.rememberProject(o.Project, false)
	}
	return errors.Join(errs...)
}

func (in *Installer) unregister(a transcript.Agent, project string) error {
	path, err := hookconfig.Path(a.HookConfig(), in.agentHome(a), project)
	if err != nil {
		return err
	}
	if !fileExists(path) {
		return nil
	}
	res, err := hookconfig.Uninstall(path, a.HookConfig())
	if err != nil {
		return fmt.Errorf("%s hooks: %w", a.Title(), err)
	}
	if res.Changed {
		in.printf("hooks    %s: removed ours from %s (backup: %s)", a.Title(), path, res.Backup)
	} else {
		in.printf("hooks    %s: none of ours in %s", a.Title(), path)
	}
	return nil
}

func (in *Installer) unregisterAllHooks() error {
	var errs []error
	projects, _ := in.projects()
	for _, scope := range append([]string{""}, projects...) {
		for _, a := range HookAgents() {
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
	Agent   hookconfig.Agent // its hook settings' format: the agent's flag ("claude")
	Title   string           // the agent's name for people ("Claude Code")
	Project string           // "" = user scope
	hookconfig.Status
	Installed bool  // the agent was found on this machine
	Err       error // the file could not be read or parsed
	// Trust is what the files say of the agent's trust in our handlers,
	// for an agent that runs only trusted hooks (transcript.HookTruster).
	Trust []transcript.Finding
}

// Trusted reports whether the agent runs our handlers as far as trust goes.
func (s HookStatus) Trusted() bool {
	return !slices.ContainsFunc(s.Trust, func(f transcript.Finding) bool { return f.Warn })
}

// Works reports whether our hooks are registered and the agent runs them.
func (s HookStatus) Works() bool { return s.Registered() && s.Trusted() }

// Line is a one-line human summary.
func (s HookStatus) Line() string {
	scope := "user"
	if s.Project != "" {
		scope = "project " + s.Project
	}
	head := fmt.Sprintf("%-11s %-5s %s", s.Title, scope, s.Path)
	if s.Err != nil {
		return head + ": " + s.Err.Error()
	}
	state := s.Summary()
	if s.Registered() {
		state = "registered, " + state + " → this install's " + s.Binaries[0]
	}
	for _, f := range s.Trust {
		if f.Warn {
			state += "; " + f.Message
		}
	}
	return head + ": " + state
}

// HooksStatus reports, for each selected agent (none: every agent with
// hooks) in one scope, whether our hooks are registered, for which events,
// and whether they run an existing binary that is this install's.
func (in *Installer) HooksStatus(ctx context.Context, o HookOptions) ([]HookStatus, error) {
	agents, err := agentsOrAll(o)
	if err != nil {
		return nil, err
	}
	installed := in.DetectAgents()
	var out []HookStatus
	for _, a := range agents {
		h := a.HookConfig()
		hs := HookStatus{Agent: h, Title: a.Title(), Project: o.Project,
			Installed: slices.ContainsFunc(installed, func(b transcript.Agent) bool { return b.Name() == a.Name() })}
		spec, err := in.hookSpec(ctx, a, true)
		if err != nil {
			spec = hookconfig.Spec{HookBinary: in.StableHook()}
		}
		path, err := hookconfig.Path(h, in.agentHome(a), o.Project)
		if err != nil {
			hs.Err = err
			out = append(out, hs)
			continue
		}
		st, err := hookconfig.Inspect(path, h, spec)
		hs.Status, hs.Err = st, err
		hs.Path = path
		if t, ok := a.(transcript.HookTruster); ok && err == nil && len(st.Entries) > 0 {
			hs.Trust = t.HookTrustOnDisk(in.hookFile(a, path, o.Project, st.Entries[0].Command))
		}
		out = append(out, hs)
	}
	return out, nil
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
