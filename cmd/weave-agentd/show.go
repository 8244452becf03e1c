package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/weave-agentd/weave-agentd/transcript"
	"github.com/weave-agentd/weave-agentd/transcript/catalog"
	"github.com/weave-agentd/weave-agentd/transcript/render"
)

type showFlags struct {
	color string
	full  bool
}

func showCommand() command {
	return command{
		Name:  "show",
		Usage: "SESSION [--color auto|always|never] [--full]",
		Short: "render one conversation in the terminal (no daemon needed)",
		Long: `Renders a conversation from its transcript on disk: each turn with the
prompt, the model's answers and reasoning, every tool call with its arguments
and result (long ones folded to their first lines), errors, subagents indented
under the tool call that started them, compactions, and per turn the tokens
(input including cache reads and writes, output) and the duration.

SESSION is a session id, any unique prefix of one (as 'weave-agentd sessions'
prints), or the path of a transcript file (.jsonl). The daemon is not needed.

Colour is used when the output is a terminal and NO_COLOR is not set; --color
always keeps it through a pager:

  weave-agentd show 4d5611e5
  weave-agentd show 4d5611e5 --color always | less -R
  weave-agentd show ~/.claude/projects/-home-me-app/4d5611e5-….jsonl --full`,
		Flags: func(fs *flag.FlagSet) any {
			f := &showFlags{}
			fs.StringVar(&f.color, "color", "auto", "auto (a terminal without NO_COLOR), always or never")
			fs.BoolVar(&f.full, "full", false, "print every line of long arguments, results and answers instead of folding them")
			return f
		},
		Run: func(ctx context.Context, e *env, opts any, args []string) error {
			return runShow(ctx, e, opts.(*showFlags), args)
		},
	}
}

func runShow(ctx context.Context, e *env, f *showFlags, args []string) error {
	if len(args) != 1 {
		return usageError{"want one SESSION: a session id, a unique prefix of one, or a transcript file (list them: weave-agentd sessions)"}
	}
	color, err := showWantColor(e, f.color)
	if err != nil {
		return err
	}
	o := sessionsCatalogOptions(e)
	home := e.Getenv("HOME")
	file, err := catalog.Resolve(o, args[0])
	if err != nil {
		return showResolveError(home, err)
	}
	spans, sum, err := catalog.Load(ctx, o, file)
	if errors.Is(err, catalog.ErrNotRenderable) {
		what := file.Agent
		if a, ok := transcript.AgentByName(file.Agent); ok {
			what = a.Title()
		}
		return &exitError{code: 1, err: fmt.Errorf("%s conversations cannot be rendered from their transcript yet (%s):\n"+
			"  its transcripts alone do not make its traces; the daemon builds them from its hook events\n"+
			"  hint: look at it on your trace server, or read the file itself", what, sessionsTilde(home, file.Path))}
	}
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("read %s: %w", sessionsTilde(home, file.Path), err)}
	}
	width := 80
	if c, err := strconv.Atoi(e.Getenv("COLUMNS")); err == nil && c >= 40 {
		width = min(c, 120)
	}
	if err := render.Conversation(e.Stdout, spans, render.Options{
		Color:    color,
		Full:     f.full,
		Source:   sessionsTilde(home, file.Path),
		Location: time.Local,
		Width:    width,
	}); err != nil {
		return err
	}
	if !sum.LastActivity.IsZero() && time.Since(sum.LastActivity) < 10*time.Minute {
		fmt.Fprintln(e.Stdout, "\n(active in the last 10 minutes: the last turn may still be running)")
	}
	return nil
}

// showWantColor: auto means a terminal without NO_COLOR (and not TERM=dumb).
func showWantColor(e *env, mode string) (bool, error) {
	switch mode {
	case "always":
		return true, nil
	case "never":
		return false, nil
	case "auto", "":
		if e.Getenv("NO_COLOR") != "" || e.Getenv("TERM") == "dumb" {
			return false, nil
		}
		f, ok := e.Stdout.(*os.File)
		if !ok {
			return false, nil
		}
		fi, err := f.Stat()
		return err == nil && fi.Mode()&os.ModeCharDevice != 0, nil
	}
	return false, usageError{fmt.Sprintf("--color %q: want auto, always or never", mode)}
}

// showResolveError turns a failed lookup into a message with hints: the
// candidates of an ambiguous prefix, or where the search looked.
func showResolveError(home string, err error) error {
	var amb *catalog.AmbiguousError
	var nf *catalog.NotFoundError
	switch {
	case errors.As(err, &amb):
		var b strings.Builder
		fmt.Fprintf(&b, "%q matches %d conversations:\n", amb.Query, len(amb.Matches))
		t := &textTable{}
		const maxShown = 10
		for i, m := range amb.Matches {
			if i == maxShown {
				break
			}
			t.add("  "+sessionsAgentLabel(m.Agent), m.Session, "last active "+m.ModTime.Local().Format("2006-01-02 15:04"), sessionsTilde(home, m.Path))
		}
		t.write(&b)
		if n := len(amb.Matches) - maxShown; n > 0 {
			fmt.Fprintf(&b, "  … and %d more\n", n)
		}
		b.WriteString("hint: give more of the id, or the transcript's path")
		return &exitError{code: 1, err: errors.New(b.String())}
	case errors.As(err, &nf):
		var where []string
		for _, r := range nf.Roots {
			d := sessionsTilde(home, r.Dir)
			if r.Exists {
				d += fmt.Sprintf(" (%d conversations)", r.Conversations)
			} else {
				d += " (does not exist)"
			}
			where = append(where, d)
		}
		msg := fmt.Sprintf("no conversation matches %q", nf.Query)
		if len(where) > 0 {
			msg += "\n  looked in " + strings.Join(where, " and ")
		}
		msg += "\nhint: 'weave-agentd sessions' lists recent ones (take any unique prefix of an id); a transcript's path works too"
		return &exitError{code: 1, err: errors.New(msg)}
	}
	return &exitError{code: 1, err: err}
}
