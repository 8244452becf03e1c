package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/weave-agentd/weave-agentd/control"
	"github.com/weave-agentd/weave-agentd/hooks"
)

type deadlettersFlags struct{ json bool }

// deadLetterMethods maps the command's actions to the daemon's methods.
var deadLetterMethods = map[string]control.Method{
	"list":  control.MethodDeadLettersList,
	"retry": control.MethodDeadLettersRetry,
	"drop":  control.MethodDeadLettersDrop,
}

func deadlettersCommand() command {
	return command{
		Name:  "deadletters",
		Usage: "[list|retry|drop] [--json]",
		Short: "inspect and act on spans the server rejected",
		Long: `A span the server refuses for its content (an HTTP 400, 413, 415 or other 4xx
but 401, 403, 404, 405, 407, 408 and 429) is isolated from its batch and kept as
a dead letter with the server's reason, instead of being dropped silently — but
only when the server accepted other spans meanwhile: a server that refuses
every span alike, or the credentials or the URL, keeps them all in the spool
(see 'weave-agentd status'). Spans an OTLP partial success reports as rejected
are recorded with the count and the message.

  weave-agentd deadletters list     show them (the default)
  weave-agentd deadletters retry    put them back in the queue (after fixing the cause)
  weave-agentd deadletters drop     delete them`,
		Flags: func(fs *flag.FlagSet) any {
			f := &deadlettersFlags{}
			fs.BoolVar(&f.json, "json", false, "print JSON")
			return f
		},
		Run: func(_ context.Context, e *env, opts any, args []string) error {
			f := opts.(*deadlettersFlags)
			action := "list"
			if len(args) > 0 {
				action = args[0]
			}
			method, ok := deadLetterMethods[action]
			if len(args) > 1 || !ok {
				return usageError{fmt.Sprintf("unknown action %q: want list, retry or drop", action)}
			}
			paths, err := hooks.ResolvePaths(e.Getenv)
			if err != nil {
				return err
			}
			resp, err := hooks.Call(paths.Socket, 10*time.Second, control.Request(method, nil))
			if err != nil {
				if resp == nil {
					return noDaemon(paths, err)
				}
				return err
			}
			if f.json {
				fmt.Fprintln(e.Stdout, string(resp.Body))
				return nil
			}
			if action != "list" {
				var r control.DeadLetterResult
				_ = json.Unmarshal(resp.Body, &r)
				verb := map[string]string{"retry": "queued again", "drop": "dropped"}[action]
				fmt.Fprintf(e.Stdout, "%d dead letter(s) %s\n", r.Count, verb)
				return nil
			}
			var views []control.DeadLetterView
			if err := json.Unmarshal(resp.Body, &views); err != nil {
				return fmt.Errorf("decode: %w", err)
			}
			if len(views) == 0 {
				fmt.Fprintln(e.Stdout, "no dead letters")
				return nil
			}
			if err := printDeadLetters(e.Stdout, views); err != nil {
				return err
			}
			// The list is capped; say how many more there are, as status counts them.
			if resp, err := hooks.Call(paths.Socket, 2*time.Second, &hooks.Request{Op: hooks.OpStatus}); err == nil {
				var st control.Status
				if json.Unmarshal(resp.Body, &st) == nil && st.Spool.DeadLetters > int64(len(views)) {
					fmt.Fprintf(e.Stdout, "... and %d more (%d dead letters in all; the oldest %d are shown)\n", st.Spool.DeadLetters-int64(len(views)), st.Spool.DeadLetters, len(views))
				}
			}
			return nil
		},
	}
}

// printDeadLetters is the table of 'deadletters list'. A partial success
// names no span: its dead letter lists the spans of the request, one a line
// under it, the rejected among them.
func printDeadLetters(w io.Writer, views []control.DeadLetterView) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tSPAN\tTRACE\tREASON")
	for _, v := range views {
		span := v.Span
		if span == "" && len(v.Candidates) > 0 {
			span = fmt.Sprintf("one of the %d below", len(v.Candidates))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", v.Time.Local().Format(time.DateTime), span, v.Trace, v.Reason)
		for _, c := range v.Candidates {
			fmt.Fprintf(tw, "\t  %s (span %s)\t%s\t\n", c.Name, c.SpanID, c.TraceID)
		}
	}
	return tw.Flush()
}
