package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/weave-agentd/weave-agentd/control"
	"github.com/weave-agentd/weave-agentd/hooks"
	"github.com/weave-agentd/weave-agentd/transcript"
)

type backfillFlags struct {
	since string
	agent string
	json  bool
}

func backfillCommand() command {
	return command{
		Name:  "backfill",
		Usage: "[PATH...] [--since D] [--agent " + strings.Join(agentFlags(), "|") + "] [--json]",
		Short: "import existing transcripts (safe to re-run: nothing is sent twice)",
		Long: `Asks the daemon to import transcripts that already exist — by default every
one the agents keep in their homes (see 'weave-agentd sessions') — with
progress. Span ids are derived from the conversation, and the daemon remembers
how far it read each file, so running it twice, or while the daemon follows the
same files live, sends nothing twice; an interrupted backfill resumes. If the
spool cannot be written (a full disk), backfill stops with exit status 1 and
the error: free space and run it again, it resumes where it stopped.

Claude Code deletes transcripts after cleanupPeriodDays (30 by default):
backfill soon after installing to keep your history.

Examples:
  weave-agentd backfill                       everything known
  weave-agentd backfill --since 7d            files changed in the last week
  weave-agentd backfill ~/.claude/projects/-home-me-app`,
		Flags: func(fs *flag.FlagSet) any {
			f := &backfillFlags{}
			fs.StringVar(&f.since, "since", "", "only files modified within this long (e.g. 24h, 7d)")
			fs.StringVar(&f.agent, "agent", "", "only this agent: "+orList(agentFlags()))
			fs.BoolVar(&f.json, "json", false, "print the final progress as JSON")
			return f
		},
		Run: func(ctx context.Context, e *env, opts any, args []string) error {
			f := opts.(*backfillFlags)
			req := control.BackfillArgs{Paths: args}
			if f.since != "" {
				d, err := parseSince(f.since)
				if err != nil {
					return usageError{err.Error()}
				}
				req.Since = d.String()
			}
			if f.agent != "" {
				a, ok := transcript.AgentNamed(f.agent)
				if !ok {
					return usageError{fmt.Sprintf("--agent %q: want %s", f.agent, orList(agentFlags()))}
				}
				req.Agent = a.Name()
			}
			paths, err := hooks.ResolvePaths(e.Getenv)
			if err != nil {
				return err
			}
			body, _ := json.Marshal(req)
			resp, err := hooks.Call(paths.Socket, 30*time.Second, control.Request(control.MethodBackfillStart, body))
			if err != nil {
				if resp == nil {
					return noDaemon(paths, err)
				}
				return err
			}
			var p control.BackfillProgress
			_ = json.Unmarshal(resp.Body, &p)
			for _, s := range p.Skipped {
				fmt.Fprintf(e.Stderr, "skipped %s: not a session transcript\n", s)
			}
			tty := isTTY(e.Stderr)
			var lastLine time.Time
			for !p.Done {
				if !f.json && (tty || time.Since(lastLine) >= 2*time.Second) {
					drawProgress(e.Stderr, &p, tty)
					lastLine = time.Now()
				}
				select {
				case <-ctx.Done():
					fmt.Fprintln(e.Stderr, "\nstopped waiting; the daemon goes on with the backfill (weave-agentd backfill shows it again)")
					return silentExit(130)
				case <-time.After(200 * time.Millisecond):
				}
				resp, err := hooks.Call(paths.Socket, 10*time.Second, control.Request(control.MethodBackfillProgress, nil))
				if err != nil {
					return fmt.Errorf("lost the daemon during the backfill (%v); run backfill again to resume", err)
				}
				_ = json.Unmarshal(resp.Body, &p)
			}
			switch {
			case f.json:
				b, _ := json.MarshalIndent(p, "", "  ")
				fmt.Fprintln(e.Stdout, string(b))
			case p.Error != "":
				if tty {
					fmt.Fprint(e.Stderr, "\r\033[K")
				}
				// Not a summary on stdout: the import did not complete.
				fmt.Fprintf(e.Stderr, "backfill stopped after %d of %d file(s); %d span(s) queued before that\n", p.FilesDone, p.Files, p.Spans)
			default:
				if tty {
					fmt.Fprint(e.Stderr, "\r\033[K")
				}
				fmt.Fprintf(e.Stdout, "backfill: %d file(s), %s read, %d span(s) queued for export\n", p.FilesDone, humanBytes(p.BytesDone), p.Spans)
				if p.Files == 0 {
					fmt.Fprintf(e.Stdout, "no transcripts found (%s)\n", transcriptPlaces(req.Agent))
				}
			}
			if p.Error != "" {
				return fmt.Errorf("%s", p.Error)
			}
			return nil
		},
	}
}

// parseSince accepts Go durations plus days ("7d", "1d12h").
func parseSince(s string) (time.Duration, error) {
	if i := strings.IndexByte(s, 'd'); i > 0 {
		days, err := strconv.Atoi(s[:i])
		if err != nil {
			return 0, fmt.Errorf("--since %q: want a duration such as 24h or 7d", s)
		}
		rest := time.Duration(0)
		if s[i+1:] != "" {
			if rest, err = time.ParseDuration(s[i+1:]); err != nil {
				return 0, fmt.Errorf("--since %q: want a duration such as 24h or 7d", s)
			}
		}
		return time.Duration(days)*24*time.Hour + rest, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("--since %q: want a duration such as 24h or 7d", s)
	}
	return d, nil
}

func drawProgress(w io.Writer, p *control.BackfillProgress, tty bool) {
	pct := 0.0
	if p.Bytes > 0 {
		pct = float64(p.BytesDone) / float64(p.Bytes)
	}
	line := fmt.Sprintf("backfill %3.0f%%  %d/%d files  %s/%s  %d spans", pct*100, p.FilesDone, p.Files,
		humanBytes(p.BytesDone), humanBytes(p.Bytes), p.Spans)
	if tty {
		const width = 24
		n := int(pct * width)
		bar := strings.Repeat("█", n) + strings.Repeat("░", width-n)
		fmt.Fprintf(w, "\r\033[K%s %s", bar, line)
		return
	}
	fmt.Fprintln(w, line)
}

func isTTY(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
