package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"github.com/weave-agentd/weave-agentd/control"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/weave-agentd/weave-agentd/hooks"
	"github.com/weave-agentd/weave-agentd/transcript"
	"github.com/weave-agentd/weave-agentd/transcript/catalog"
)

type sessionsFlags struct {
	agent string
	since string
	limit int
	json  bool
}

func sessionsCommand() command {
	return command{
		Name:  "sessions",
		Usage: "[--agent " + strings.Join(agentFlags(), "|") + "] [--since 7d] [--limit N] [--json]",
		Short: "list recent conversations: project, turns, tools, tokens, exported?",
		Long: `Lists the conversations the agents left on disk, newest first:
the agent, the session id (its first 8 characters; 'weave-agentd show' takes
any unique prefix), the project folder the conversation ran in, when it
started, its turns, tool calls and tokens (input including cache, plus
output), and whether the daemon has exported it.

Counts come from replaying each transcript through the same span builder the
daemon runs, so they match what is exported. Nothing needs the daemon except
the EXPORTED column ("-" when no daemon answers).

` + wrap("Where: "+strings.Join(transcriptRoots(), ", ")+".", "", 80) + `

  weave-agentd sessions                    the 20 most recent
  weave-agentd sessions --since 7d         active in the last 7 days (also 24h, 90m, 2w, 2026-11-01)
  weave-agentd sessions --agent cursor --limit 0 --json`,
		Flags: func(fs *flag.FlagSet) any {
			f := &sessionsFlags{}
			fs.StringVar(&f.agent, "agent", "", "only this agent: "+orList(agentFlags()))
			fs.StringVar(&f.since, "since", "", "only conversations active since then: 7d, 24h, 90m, 2w or a date (2026-11-01)")
			fs.IntVar(&f.limit, "limit", 20, "show at most this many (0: all)")
			fs.BoolVar(&f.json, "json", false, "print JSON (an array, newest first)")
			return f
		},
		Run: func(ctx context.Context, e *env, opts any, args []string) error {
			return runSessions(ctx, e, opts.(*sessionsFlags), args)
		},
	}
}

// sessionsCatalogOptions says where the agents keep their transcripts.
func sessionsCatalogOptions(e *env) catalog.Options {
	homes := agentHomes(e.Getenv)
	if e.Getenv("HOME") == "" { // not searched relative to the current folder
		for name, h := range homes {
			if !filepath.IsAbs(h) {
				delete(homes, name)
			}
		}
	}
	return catalog.Options{Homes: homes}
}

// sessionRow is one conversation in `sessions --json`: the catalog's
// summary plus what the daemon says about its export.
type sessionRow struct {
	catalog.Summary
	// Exported: "yes" (read to the end, nothing waiting), "partial" (the
	// daemon has not read all of it), "queued" (spans wait in the spool),
	// "no" (the daemon never saw it), "unknown" (no daemon answers, or it
	// cannot tell).
	Exported string `json:"exported"`
}

func runSessions(ctx context.Context, e *env, f *sessionsFlags, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q (to look at one conversation: weave-agentd show %s)", args[0], args[0])}
	}
	o := sessionsCatalogOptions(e)
	if f.agent != "" {
		a, ok := catalog.AgentName(f.agent)
		if !ok {
			return usageError{fmt.Sprintf("unknown agent %q: want %s", f.agent, orList(agentFlags()))}
		}
		o.Agent = a
	}
	if f.since != "" {
		t, err := catalog.ParseSince(f.since, time.Now(), time.Local)
		if err != nil {
			return usageError{err.Error()}
		}
		o.Since = t
	}
	if f.limit < 0 {
		return usageError{"--limit must be 0 (all) or more"}
	}
	files, roots, err := catalog.Find(o)
	if err != nil {
		return err
	}
	hidden := 0
	if f.limit > 0 && len(files) > f.limit {
		// Only the newest files are read, but the list is ordered by what
		// they contain: files modified at the same instant (restored
		// together, or written within one clock tick) are all read, so
		// which of them makes the cut does not depend on their names.
		read := f.limit
		for read < len(files) && files[read].ModTime.Equal(files[f.limit-1].ModTime) {
			read++
		}
		hidden = len(files) - f.limit
		files = files[:read]
	}
	sums := catalog.SummarizeAll(ctx, o, files)
	if err := ctx.Err(); err != nil {
		return err
	}
	if !o.Since.IsZero() {
		// The file's modification time let it through; its last line may
		// still be older (a copied or restored transcript).
		kept := sums[:0]
		for _, s := range sums {
			if s.LastActivity.IsZero() || !s.LastActivity.Before(o.Since) {
				kept = append(kept, s)
			}
		}
		sums = kept
	}
	catalog.SortNewestFirst(sums)
	if f.limit > 0 && len(sums) > f.limit {
		sums = sums[:f.limit]
	}
	exp := queryExported(e, sums)
	rows := make([]sessionRow, len(sums))
	for i, s := range sums {
		rows[i] = sessionRow{Summary: s, Exported: exp.state(s)}
	}
	if f.json {
		b, err := json.MarshalIndent(rows, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintln(e.Stdout, string(b))
		return nil
	}
	home := e.Getenv("HOME")
	if len(rows) == 0 {
		printNoSessions(e.Stdout, home, f, o, roots)
		return nil
	}
	printSessionsTable(e.Stdout, home, rows, exp)
	if hidden > 0 {
		fmt.Fprintf(e.Stdout, "… and %d older (--limit 0 shows all, --since 30d narrows by age)\n", hidden)
	}
	switch exp.daemon {
	case daemonDown:
		fmt.Fprintln(e.Stdout, "EXPORTED: unknown, no daemon answers (start it: weave-agentd start, or weave-agentd run)")
	case daemonCannotTell:
		fmt.Fprintf(e.Stdout, "EXPORTED: unknown, the daemon could not tell: %s\n", exp.reason)
	}
	for _, r := range rows {
		if r.Error != "" {
			fmt.Fprintf(e.Stdout, "note: %s: %s\n", sessionsTilde(home, r.Path), r.Error)
		}
	}
	fmt.Fprintln(e.Stdout, "Look at one: weave-agentd show SESSION")
	return nil
}

func printNoSessions(w io.Writer, home string, f *sessionsFlags, o catalog.Options, roots []catalog.Root) {
	var where []string
	older := 0
	anyDir := false
	for _, r := range roots {
		d := sessionsTilde(home, r.Dir)
		if !r.Exists {
			d += " (does not exist)"
		} else {
			anyDir = true
			older += r.Conversations
		}
		where = append(where, d)
	}
	place := strings.Join(where, " or ")
	if place == "" {
		place = "any agent folder (HOME is not set)"
	}
	switch {
	case f.since != "" && older > 0:
		fmt.Fprintf(w, "no conversations active since %s (--since %s) under %s;\n", o.Since.Local().Format("2006-01-02 15:04"), f.since, place)
		fmt.Fprintf(w, "%d older one(s): try a longer --since, or leave it out\n", older)
	default:
		fmt.Fprintf(w, "no conversations found under %s\n", place)
		var titles []string
		for _, a := range transcript.Agents() {
			if o.Agent == "" || o.Agent == a.Name() {
				titles = append(titles, a.Title())
			}
		}
		who := orList(titles)
		if !anyDir {
			for _, a := range transcript.Agents() {
				if o.Agent != "" && o.Agent != a.Name() {
					continue
				}
				if vars := transcript.HomeVars(a); len(vars) > 0 {
					home := a.Home(func(string) string { return "" }, "~")
					fmt.Fprintf(w, "%s keeps its transcripts in $%s/%s (default %s/%s): is %s set where it runs?\n",
						a.Title(), vars[0], a.Layout().Root, home, a.Layout().Root, strings.Join(vars, " or "))
				}
			}
			fmt.Fprintf(w, "they appear once %s has been used as this user; a transcript elsewhere can be shown with 'weave-agentd show PATH'\n", who)
		} else {
			fmt.Fprintf(w, "they appear there once %s has been used as this user\n", who)
		}
	}
}

func printSessionsTable(w io.Writer, home string, rows []sessionRow, exp exportInfo) {
	t := &textTable{right: map[int]bool{4: true, 5: true, 6: true}}
	t.add("AGENT", "SESSION", "PROJECT", "STARTED", "TURNS", "TOOLS", "TOKENS", "EXPORTED")
	for _, r := range rows {
		started := "-"
		if !r.Started.IsZero() {
			started = r.Started.Local().Format("2006-01-02 15:04")
		}
		tokens := "-"
		if r.Usage != nil {
			tokens = compactCount(r.Usage.Total())
		}
		turns, tools := fmt.Sprint(r.Turns), fmt.Sprint(r.ToolCalls)
		if r.Error != "" {
			turns, tools = "!", "!"
		}
		t.add(sessionsAgentLabel(r.Agent), shortID(r.Session), shortenPath(sessionsTilde(home, r.Project), 36),
			started, turns, tools, tokens, exp.cell(r.Exported))
	}
	t.write(w)
}

// textTable aligns columns by rune width; right-aligned columns for numbers.
type textTable struct {
	rows  [][]string
	right map[int]bool
}

func (t *textTable) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *textTable) write(w io.Writer) {
	var widths []int
	for _, r := range t.rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	for _, r := range t.rows {
		var b strings.Builder
		for i, c := range r {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c))
			if i > 0 {
				b.WriteString("  ")
			}
			if t.right[i] {
				b.WriteString(pad + c)
			} else {
				b.WriteString(c + pad)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

// sessionsAgentLabel is the name --agent takes for the agent (claude for
// claude-code).
func sessionsAgentLabel(agent string) string {
	if agent == "" {
		return "-"
	}
	if a, ok := transcript.AgentByName(agent); ok {
		return a.Aliases()[0]
	}
	return agent
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	if id == "" {
		return "-"
	}
	return id
}

// sessionsTilde writes a path under HOME as ~/…
func sessionsTilde(home, p string) string {
	if p == "" {
		return "-"
	}
	if home != "" && home != "/" {
		home = filepath.Clean(home)
		if p == home {
			return "~"
		}
		if rest, ok := strings.CutPrefix(p, home+string(filepath.Separator)); ok {
			return "~" + string(filepath.Separator) + rest
		}
	}
	return p
}

// shortenPath keeps the end of a long path (the project's own folder and
// its parents), whole components first: ~/…/worktrees/app.
func shortenPath(p string, n int) string {
	if utf8.RuneCountInString(p) <= n {
		return p
	}
	sep := string(filepath.Separator)
	parts := strings.Split(p, sep)
	lead := "…"
	if parts[0] == "~" {
		lead = "~" + sep + "…"
	}
	out := parts[len(parts)-1]
	for i := len(parts) - 2; i > 0; i-- {
		next := parts[i] + sep + out
		if utf8.RuneCountInString(lead+sep+next) > n {
			break
		}
		out = next
	}
	out = lead + sep + out
	if r := []rune(out); len(r) > n { // one very long folder name
		out = "…" + string(r[len(r)-n+1:])
	}
	return out
}

// compactCount prints 1234 as 1.2k and 12345678 as 12.3M.
func compactCount(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1fG", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

// The daemon call behind the EXPORTED column: control.MethodSessionsExported.
// The client sends each conversation's transcript files; the daemon answers
// with what it holds for them, and the client decides what to show. An older
// daemon answers "unknown method", shown as "?".

// The request and answer are the daemon's contract types.
type (
	exportQuery     = control.SessionsExportedArgs
	exportQueryItem = control.SessionQuery
	exportAnswer    = control.SessionsExported
	exportState     = control.SessionExportState
)

type daemonAnswer int

const (
	daemonUp daemonAnswer = iota
	daemonDown
	daemonCannotTell
)

type exportInfo struct {
	daemon daemonAnswer
	reason string
	states map[string]exportState // by agent + "\x00" + session
	sizes  map[string]int64       // transcript sizes seen by the catalog
}

// state decides a conversation's EXPORTED value from the daemon's answer.
func (x exportInfo) state(s catalog.Summary) string {
	if x.daemon != daemonUp {
		return "unknown"
	}
	st, ok := x.states[s.Agent+"\x00"+s.Session]
	if !ok || !st.Known {
		return "no"
	}
	files := s.Files
	if len(files) == 0 {
		files = []string{s.Path}
	}
	for _, p := range files {
		if st.Offsets[p] < x.sizes[p] {
			return "partial"
		}
	}
	switch {
	case st.PendingSpans > 0:
		return "queued"
	case st.PendingSpans < 0:
		return "unknown"
	}
	return "yes"
}

func (x exportInfo) cell(state string) string {
	switch {
	case x.daemon == daemonDown:
		return "-"
	case state == "unknown":
		return "?"
	}
	return state
}

// queryExported asks the daemon (2 s at most) what it exported of these
// conversations.
func queryExported(e *env, sums []catalog.Summary) exportInfo {
	x := exportInfo{states: map[string]exportState{}, sizes: map[string]int64{}}
	paths, err := hooks.ResolvePaths(e.Getenv)
	if err != nil {
		x.daemon, x.reason = daemonDown, err.Error()
		return x
	}
	for _, s := range sums {
		for _, p := range s.Files {
			x.sizes[p] = fileSize(p)
		}
		x.sizes[s.Path] = s.Size
	}
	const chunk = 500
	for i := 0; i < len(sums); i += chunk {
		q := exportQuery{Sessions: []exportQueryItem{}}
		for _, s := range sums[i:min(i+chunk, len(sums))] {
			files := s.Files
			if len(files) == 0 {
				files = []string{s.Path}
			}
			q.Sessions = append(q.Sessions, exportQueryItem{Agent: s.Agent, Session: s.Session, Files: files})
		}
		b, _ := json.Marshal(q)
		resp, err := hooks.Call(paths.Socket, 2*time.Second, control.Request(control.MethodSessionsExported, b))
		if err != nil {
			x.daemon, x.reason = daemonDown, err.Error()
			if resp != nil {
				x.daemon = daemonCannotTell
			}
			return x
		}
		var a exportAnswer
		if err := json.Unmarshal(resp.Body, &a); err != nil {
			x.daemon, x.reason = daemonCannotTell, "bad answer: "+err.Error()
			return x
		}
		for _, st := range a.Sessions {
			x.states[st.Agent+"\x00"+st.Session] = st
		}
	}
	return x
}

func fileSize(p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return fi.Size()
}
