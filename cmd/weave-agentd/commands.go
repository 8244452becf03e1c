package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/weave-agentd/weave-agentd/transcript"
)

// env is everything a command may touch of the outside world, injected so
// tests can run commands in-process with their own HOME, streams and logger.
type env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	Args0  string // path of the running executable
}

func newEnv() *env {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	return &env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Args0: exe}
}

// logger returns the slog logger commands write their diagnostics to.
func (e *env) logger(level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(e.Stderr, &slog.HandlerOptions{Level: level}))
}

// command is one subcommand, described as data (as Caddy does): the help
// text is generated from this table.
type command struct {
	Name  string
	Usage string // argument synopsis after the name
	Short string // one line for the command list
	Long  string // paragraph for `weave-agentd help NAME`
	Flags func(fs *flag.FlagSet) any
	// NoArgs: the command takes flags only; an argument is a usage error.
	NoArgs bool
	Run    func(ctx context.Context, e *env, opts any, args []string) error
}

// exitError carries a specific exit code (status uses 1 and 3).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

// silentExit ends a command with a code and no further message.
func silentExit(code int) error { return &exitError{code: code} }

// usageError is a mistake on the command line: the message plus a hint.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func commands() []command {
	return []command{
		runCommand(),
		installCommand(),
		uninstallCommand(),
		startCommand(),
		stopCommand(),
		restartCommand(),
		hooksCommand(),
		doctorCommand(),
		hookCommand(),
		statusCommand(),
		flushCommand(),
		sessionsCommand(),
		showCommand(),
		deadlettersCommand(),
		backfillCommand(),
		versionCommand(),
	}
}

func findCommand(name string) (command, bool) {
	for _, c := range commands() {
		if c.Name == name {
			return c, true
		}
	}
	return command{}, false
}

// Main runs one invocation and returns the process exit code.
func Main(ctx context.Context, args []string, e *env) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) > 1 {
			if c, ok := findCommand(args[1]); ok {
				printCommandHelp(e.Stdout, c)
				return 0
			}
		}
		printHelp(e.Stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] == "--version" {
		args[0] = "version"
	}
	c, ok := findCommand(args[0])
	if !ok {
		fmt.Fprintf(e.Stderr, "weave-agentd: unknown command %q\nRun 'weave-agentd help' for the list of commands.\n", args[0])
		return 2
	}
	fs := flag.NewFlagSet("weave-agentd "+c.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var opts any
	if c.Flags != nil {
		opts = c.Flags(fs)
	}
	positional, err := parseInterleaved(fs, args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printCommandHelp(e.Stdout, c)
			return 0
		}
		fmt.Fprintf(e.Stderr, "weave-agentd %s: %v\nUsage: weave-agentd %s %s\n", c.Name, err, c.Name, c.Usage)
		return 2
	}
	if c.NoArgs && len(positional) > 0 {
		err = usageError{fmt.Sprintf("unexpected argument %q", positional[0])}
	} else {
		err = c.Run(ctx, e, opts, positional)
	}
	if err == nil {
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(e.Stderr, "weave-agentd %s: %s\nUsage: weave-agentd %s %s\n", c.Name, ue.msg, c.Name, c.Usage)
		return 2
	}
	var xe *exitError
	if errors.As(err, &xe) {
		if xe.err != nil {
			fmt.Fprintf(e.Stderr, "weave-agentd %s: %v\n", c.Name, xe.err)
		}
		return xe.code
	}
	fmt.Fprintf(e.Stderr, "weave-agentd %s: %v\n", c.Name, err)
	return 1
}

// parseInterleaved parses flags wherever they stand among the positional
// arguments (`deadletters list --json` as well as `deadletters --json list`).
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		if args[0] == "--" {
			return append(positional, args[1:]...), nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

func printHelp(w io.Writer) {
	var titles []string
	for _, a := range transcript.Agents() {
		titles = append(titles, a.Title())
	}
	fmt.Fprintf(w, "weave-agentd turns what %s do into OpenTelemetry GenAI traces.\n", andList(titles))
	fmt.Fprintln(w, "\nUsage: weave-agentd COMMAND [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-12s %s\n", c.Name, c.Short)
	}
	fmt.Fprintln(w, "\nRun 'weave-agentd help COMMAND' for a command's flags.")
	fmt.Fprintln(w, "Start here: 'weave-agentd run' (foreground) or 'weave-agentd install' (as a service).")
}

func printCommandHelp(w io.Writer, c command) {
	fmt.Fprintf(w, "Usage: weave-agentd %s %s\n\n%s\n", c.Name, c.Usage, strings.TrimSpace(c.Long))
	if c.Flags == nil {
		return
	}
	fs := flag.NewFlagSet(c.Name, flag.ContinueOnError)
	c.Flags(fs)
	has := false
	fs.VisitAll(func(*flag.Flag) { has = true })
	if has {
		fmt.Fprintln(w, "\nFlags:")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
}
