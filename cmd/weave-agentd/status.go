package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/weave-agentd/weave-agentd/control"
	"github.com/weave-agentd/weave-agentd/hooks"
	"github.com/weave-agentd/weave-agentd/installer"
)

// Exit codes of status, as `systemctl status` uses them.
const (
	exitUnhealthy = 1
	exitNoDaemon  = 3
)

// call sends one control request to the daemon.
func call(e *env, op string, args any, timeout time.Duration) (*hooks.Response, hooks.Paths, error) {
	paths, err := hooks.ResolvePaths(e.Getenv)
	if err != nil {
		return nil, paths, err
	}
	req := &hooks.Request{Op: op}
	if args != nil {
		b, err := json.Marshal(args)
		if err != nil {
			return nil, paths, err
		}
		req.Args = b
	}
	resp, err := hooks.Call(paths.Socket, timeout, req)
	return resp, paths, err
}

// noDaemon is the error for commands that need a running daemon.
func noDaemon(paths hooks.Paths, err error) error {
	if ue, ok := errors.AsType[*hooks.UntrustedError](err); ok {
		return &exitError{code: exitNoDaemon, err: errors.New(untrustedSocket(paths, ue))}
	}
	return &exitError{code: exitNoDaemon, err: fmt.Errorf("no daemon answers on %s (%v)\nhint: start it with 'weave-agentd run' (foreground) or 'weave-agentd start' (installed service)", paths.Socket, err)}
}

// untrustedSocket explains a socket the client refused to connect to
// (hooks.CheckSocket): what is wrong, where the hooks keep events meanwhile,
// and what to do.
func untrustedSocket(paths hooks.Paths, ue *hooks.UntrustedError) string {
	return fmt.Sprintf("not connecting to the socket at %s: %v\n"+
		"hooks keep events in their inbox (%s) until this is fixed\nhint: %s", paths.Socket, ue, paths.Inbox, ue.Hint())
}

type statusFlags struct{ json bool }

func statusCommand() command {
	return command{
		Name:  "status",
		Usage: "[--json]",
		Short: "is the daemon up, and is the spool draining?",
		Long: `Shows whether the daemon answers, where spans go, how many wait in the spool
(and for how long), how many were exported, failed or dead-lettered, the last
export error, and the sessions and files being followed.

Exit status: 0 the daemon answers and exports are healthy (dead letters are
reported, not an error); 1 it answers but the latest export failed (or one has
waited longer than the export timeout) and spans are waiting — a server that
refuses the credentials or the URL included, with the HTTP status and a hint —,
it cannot write to its spool (a full disk), or its config file failed to reload
(it runs on with the config it had); 3 no daemon answers.`,
		Flags: func(fs *flag.FlagSet) any {
			f := &statusFlags{}
			fs.BoolVar(&f.json, "json", false, "print the status as JSON")
			return f
		},
		Run: func(ctx context.Context, e *env, opts any, _ []string) error {
			f := opts.(*statusFlags)
			hooksState := hookSummaries(ctx, e)
			resp, paths, err := call(e, hooks.OpStatus, nil, 2*time.Second)
			if err != nil {
				// A daemon (re)started on a broken config exits at once: say why.
				cfgErr := checkConfigFile(e)
				ue, untrusted := errors.AsType[*hooks.UntrustedError](err)
				if f.json {
					out := map[string]any{"running": false, "socket": paths.Socket, "error": err.Error(), "hooks": hooksState}
					if cfgErr != nil {
						out["config_error"] = map[string]string{"message": cfgErr.Error()}
					}
					if untrusted {
						out["untrusted"] = map[string]any{"kind": ue.Kind, "path": ue.Path, "reason": ue.Reason,
							"owner_uid": ue.UID, "mode": fmt.Sprintf("%04o", ue.Mode.Perm()), "hint": ue.Hint(), "inbox": paths.Inbox}
					}
					b, _ := json.Marshal(out)
					fmt.Fprintln(e.Stdout, string(b))
					return silentExit(exitNoDaemon)
				}
				if untrusted {
					fmt.Fprintf(e.Stdout, "weave-agentd: %s\n", strings.ReplaceAll(untrustedSocket(paths, ue), "\n", "\n  "))
					printHooks(e.Stdout, hooksState)
					return silentExit(exitNoDaemon)
				}
				fmt.Fprintf(e.Stdout, "weave-agentd: not running (no answer on %s)\n", paths.Socket)
				if cfgErr != nil {
					fmt.Fprintf(e.Stdout, "  config:     ERROR: %v\n", cfgErr)
					fmt.Fprintln(e.Stdout, "              the daemon does not start on it: fix the file first")
				}
				fmt.Fprintln(e.Stdout, "  start it: weave-agentd run (foreground) or weave-agentd start (service)")
				printHooks(e.Stdout, hooksState)
				return silentExit(exitNoDaemon)
			}
			var st control.Status
			if err := json.Unmarshal(resp.Body, &st); err != nil {
				return fmt.Errorf("decode status: %w", err)
			}
			if f.json {
				b, _ := json.MarshalIndent(struct {
					Running bool `json:"running"`
					control.Status
					Hooks []hookState `json:"hooks"`
				}{true, st, hooksState}, "", "  ")
				fmt.Fprintln(e.Stdout, string(b))
			} else {
				printStatus(e.Stdout, &st)
				printHooks(e.Stdout, hooksState)
			}
			if !st.ExportHealthy || st.StorageError != nil || st.ConfigError != nil || st.InboxError != nil {
				return silentExit(exitUnhealthy)
			}
			return nil
		},
	}
}

func printStatus(w io.Writer, st *control.Status) {
	up := time.Duration(st.UptimeSeconds * float64(time.Second)).Round(time.Second)
	fmt.Fprintf(w, "weave-agentd %s: running (pid %d, up %s)\n", st.Version, st.PID, up)
	if st.Endpoint == "" {
		fmt.Fprintf(w, "  endpoint:   none configured; writing OTLP/JSON to %s\n", st.SinkFile)
	} else {
		fmt.Fprintf(w, "  endpoint:   %s (from %s)\n", st.Endpoint, st.EndpointSource)
	}
	health := "healthy"
	if !st.ExportHealthy {
		health = "FAILING"
		if st.FailingSince != nil {
			health += " since " + st.FailingSince.Local().Format(time.DateTime)
		}
	}
	fmt.Fprintf(w, "  exports:    %s; %d exported, %d failed attempts, %d dropped by the size cap\n",
		health, st.Counters["exported"], st.Counters["failed"], st.Counters["dropped"])
	switch ee := st.ExportError; {
	case ee != nil && ee.Message != "":
		fmt.Fprintf(w, "  last error: %s\n", ee.Message)
		if ee.Hint != "" {
			fmt.Fprintf(w, "              hint: %s\n", ee.Hint)
		}
	case st.Spool.LastError != nil:
		fmt.Fprintf(w, "  last error: %s (%s)\n", st.Spool.LastError.Message, st.Spool.LastError.Time.Local().Format(time.DateTime))
	}
	if ce := st.ConfigError; ce != nil {
		fmt.Fprintf(w, "  config:     ERROR since %s: %s\n", ce.Since.Local().Format(time.DateTime), ce.Message)
		fmt.Fprintf(w, "              the daemon runs on with the config it had; fix the file, then reload: systemctl --user reload weave-agentd (or kill -HUP %d)\n", st.PID)
	}
	if se := st.StorageError; se != nil {
		fmt.Fprintf(w, "  storage:    FAILING since %s: %s\n", se.Since.Local().Format(time.DateTime), se.Message)
		fmt.Fprintf(w, "              hint: free space where the spool lives (%s); hooks keep events in their inbox meanwhile\n", filepath.Dir(st.SpoolFile))
	}
	if ie := st.InboxError; ie != nil {
		fmt.Fprintf(w, "  inbox:      FAILING since %s: %s\n", ie.Since.Local().Format(time.DateTime), ie.Message)
		fmt.Fprintf(w, "              hint: the hooks' journal must be a regular file of yours: remove what is there (it is re-created); meanwhile the hooks write their events to a fallback journal beside it, which the daemon drains too\n")
	}
	oldest := "-"
	if st.Spool.Depth > 0 {
		oldest = time.Duration(st.OldestAgeSec * float64(time.Second)).Round(time.Second).String()
	}
	fmt.Fprintf(w, "  spool:      %d span(s) waiting, %s, oldest %s; %d event(s) pending\n",
		st.Spool.Depth, humanBytes(st.Spool.Bytes), oldest, st.Spool.PendingEvents)
	fmt.Fprintf(w, "  sessions:   %d active, %d file(s) watched\n", st.ActiveSessions, len(st.WatchedFiles))
	// Dead letters held, as 'deadletters list' shows them (retry and drop
	// empty it); the counter is every span refused for good so far.
	if n := st.Counters["dead_lettered"]; st.Spool.DeadLetters > 0 || n > 0 {
		fmt.Fprintf(w, "  dead letters: %d held: see 'weave-agentd deadletters list' (%d span(s) refused for good in all)\n", st.Spool.DeadLetters, n)
	}
	if n := st.Counters["bad_events"]; n > 0 {
		fmt.Fprintf(w, "  note:       %d malformed hook event(s) skipped\n", n)
	}
	for _, f := range st.SkippedFiles {
		fmt.Fprintf(w, "  skipped:    %s: %s\n", shownPath(f.Path), f.Reason)
	}
}

// maxShownPath bounds a path printed in status: one from a hook payload can
// be as long as the payload.
const maxShownPath = 256

// shownPath is a path as status prints it: quoted when it holds a control
// character or invalid UTF-8 (a payload's path must not write escape
// sequences into the user's terminal, nor hide a NUL), cut when long.
func shownPath(p string) string {
	if len(p) > maxShownPath {
		n := maxShownPath
		for n > 0 && !utf8.RuneStart(p[n]) {
			n--
		}
		p = p[:n] + "…"
	}
	if !utf8.ValidString(p) || strings.ContainsFunc(p, unicode.IsControl) {
		return strconv.Quote(p)
	}
	return p
}

func humanBytes(n int64) string { return installer.HumanBytes(n) }

type flushFlags struct{ timeout time.Duration }

func flushCommand() command {
	return command{
		Name:  "flush",
		Usage: "[--timeout D]",
		Short: "export everything the daemon holds now, skipping any backoff",
		Long: `Exports, right now and skipping any backoff wait, everything the daemon holds at
the moment of the call: the spool, the inbox journal, and spans from transcript
bytes already on disk. Exits 0 when all of it was accepted by the server, or
refused for good for its content and kept as dead letters (which it reports,
and never calls accepted); 1 on timeout, or at once when the server refuses
our requests (credentials, URL, every span alike), saying what remains and why.

Example: weave-agentd flush --timeout 1m`,
		Flags: func(fs *flag.FlagSet) any {
			f := &flushFlags{}
			fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "how long to wait for the server to accept everything")
			return f
		},
		Run: func(_ context.Context, e *env, opts any, _ []string) error {
			f := opts.(*flushFlags)
			if f.timeout <= 0 {
				return usageError{"--timeout must be positive, e.g. 30s"}
			}
			resp, paths, err := call(e, hooks.OpFlush, control.FlushArgs{TimeoutMS: f.timeout.Milliseconds()}, f.timeout+5*time.Second)
			if err != nil {
				if resp == nil {
					return noDaemon(paths, err)
				}
				return err
			}
			var res control.FlushResult
			if err := json.Unmarshal(resp.Body, &res); err != nil {
				return fmt.Errorf("decode flush result: %w", err)
			}
			if !res.Done {
				msg := "not everything was exported: " + strings.TrimSpace(res.Message)
				if res.DeadLettered > 0 {
					msg += fmt.Sprintf("\nmeanwhile %d span(s) were refused for good and kept as dead letters: see 'weave-agentd deadletters list'", res.DeadLettered)
				}
				return &exitError{code: 1, err: errors.New(msg)}
			}
			if res.DeadLettered > 0 {
				fmt.Fprintf(e.Stdout, "flushed: %d span(s) accepted; %d span(s) refused for good by the server and kept as dead letters (not exported): see 'weave-agentd deadletters list'\n", res.Exported, res.DeadLettered)
				return nil
			}
			fmt.Fprintf(e.Stdout, "flushed: everything held was accepted (%d span(s))\n", res.Exported)
			return nil
		},
	}
}

// hookState is one agent's hook registration, as status reports it.
type hookState struct {
	Agent      string `json:"agent"`
	Title      string `json:"-"`
	Installed  bool   `json:"installed"` // the agent was found on this machine
	Registered bool   `json:"registered"`
	Path       string `json:"path"`
	Summary    string `json:"summary"`
	// Untrusted says why the agent skips our registered hooks (Codex runs
	// only hooks whose content the user trusted).
	Untrusted string `json:"untrusted,omitempty"`
	Hint      string `json:"hint,omitempty"` // how to trust them
}

// hookSummaries inspects the user-scope hook registration of each agent.
func hookSummaries(ctx context.Context, e *env) []hookState {
	in, err := newInstaller(e)
	if err != nil {
		return nil
	}
	var out []hookState
	sts, err := in.HooksStatus(ctx, installer.HookOptions{})
	if err != nil {
		return nil
	}
	for _, hs := range sts {
		st := hookState{Agent: hs.Agent.Name, Title: hs.Title, Installed: hs.Installed, Registered: hs.Err == nil && hs.Registered(), Path: hs.Path, Summary: hs.Summary()}
		if hs.Err != nil {
			st.Summary = hs.Err.Error()
		}
		for _, f := range hs.Trust {
			if f.Warn {
				st.Untrusted, st.Hint = f.Message, f.Fix
			}
		}
		out = append(out, st)
	}
	return out
}

func printHooks(w io.Writer, states []hookState) {
	for _, h := range states {
		name := h.Title
		switch {
		case h.Registered && h.Untrusted != "":
			fmt.Fprintf(w, "  hooks:      %s registered but NOT trusted: %s\n", name, h.Untrusted)
			if h.Hint != "" {
				fmt.Fprintf(w, "              hint: %s\n", h.Hint)
			}
		case h.Registered:
			fmt.Fprintf(w, "  hooks:      %s registered (%s)\n", name, h.Path)
		case !h.Installed:
			fmt.Fprintf(w, "  hooks:      %s not found on this machine\n", name)
		default:
			fmt.Fprintf(w, "  hooks:      %s NOT registered: %s — run 'weave-agentd hooks install --%s'\n", name, h.Summary, h.Agent)
		}
	}
}
