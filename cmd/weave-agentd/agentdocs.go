package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/weave-agentd/weave-agentd/installer"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// The parts of install's and hooks' help that name the agents, generated
// from the registry: adding an agent changes them without an edit here.

// hookFilesTable lists each agent with hooks and its user settings file,
// with the variable that moves its folder, one per line, indented.
func hookFilesTable(indent string) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, a := range installer.HookAgents() {
		home := a.Home(func(string) string { return "" }, "~")
		line := indent + a.Title() + "\t" + filepath.Join(home, hookFile(a, false))
		if vars := transcript.HomeVars(a); len(vars) > 0 {
			line += "\t($" + strings.Join(vars, ", $") + " moves the folder)"
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
	return strings.TrimRight(b.String(), "\n")
}

// hookAgentHomes lists where each agent with hooks is found:
// "~/.claude or $CLAUDE_CONFIG_DIR, ~/.cursor".
func hookAgentHomes() string {
	var homes []string
	for _, a := range installer.HookAgents() {
		h := a.Home(func(string) string { return "" }, "~")
		for _, v := range transcript.HomeVars(a) {
			h += " or $" + v
		}
		homes = append(homes, h)
	}
	return strings.Join(homes, ", ")
}

// hookAgentFlagList is "--claude, --codex or --cursor".
func hookAgentFlagList() string {
	var flags []string
	for _, a := range installer.HookAgents() {
		flags = append(flags, "--"+a.HookConfig().Name)
	}
	return orList(flags)
}

// hookAgentNotes are the sentences about agents that need more than a
// file edit: events that follow the installed version, trust to record.
func hookAgentNotes() []string {
	var notes []string
	for _, a := range installer.HookAgents() {
		if p := a.HookConfig().Version; p != nil && len(p.Args) > 0 {
			notes = append(notes, fmt.Sprintf("%s gets only the events its installed version knows ('%s' is asked).", a.Title(), strings.Join(p.Args, " ")))
		}
		if _, ok := a.(transcript.HookTruster); ok {
			notes = append(notes, fmt.Sprintf("%s runs only hooks the user trusted, and skips others without a word: install records that ours are trusted, as %s itself would; when it cannot, it says how to do it.", a.Title(), a.Title()))
		}
	}
	return notes
}

// wrap fills text into lines of at most width columns, each after indent.
func wrap(text, indent string, width int) string {
	var lines []string
	line := indent
	for _, w := range strings.Fields(text) {
		if line != indent && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = indent
		}
		if line != indent {
			line += " "
		}
		line += w
	}
	if line != indent {
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

// transcriptPlaces says where the agents whose transcripts backfill reads
// (those the daemon discovers; only agent, by name, when not "") keep
// them: "Claude Code keeps them under ~/.claude/projects, or
// $CLAUDE_CONFIG_DIR/projects; …".
func transcriptPlaces(agent string) string {
	var places []string
	for _, a := range transcript.Agents() {
		if !a.Discover() || agent != "" && agent != a.Name() {
			continue
		}
		root := a.Layout().Root
		p := a.Title() + " keeps them under " + filepath.Join(a.Home(func(string) string { return "" }, "~"), root)
		for _, v := range transcript.HomeVars(a) {
			p += ", or $" + v + "/" + root
		}
		places = append(places, p)
	}
	return strings.Join(places, "; ")
}

// hookAgentTitles are the names of the agents with hooks.
func hookAgentTitles() []string {
	var titles []string
	for _, a := range installer.HookAgents() {
		titles = append(titles, a.Title())
	}
	return titles
}

// andList writes names as "a, b and c".
func andList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// transcriptRoots say where each agent keeps its transcripts:
// "Claude Code's $CLAUDE_CONFIG_DIR/projects (default ~/.claude/projects)".
func transcriptRoots() []string {
	var out []string
	for _, a := range transcript.Agents() {
		root := a.Layout().Root
		def := filepath.Join(a.Home(func(string) string { return "" }, "~"), root)
		if vars := transcript.HomeVars(a); len(vars) > 0 {
			out = append(out, fmt.Sprintf("%s's $%s/%s (default %s)", a.Title(), vars[0], root, def))
		} else {
			out = append(out, a.Title()+"'s "+def)
		}
	}
	return out
}
