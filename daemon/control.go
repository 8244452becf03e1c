package daemon

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/weave-agentd/weave-agentd/control"
	"github.com/weave-agentd/weave-agentd/hooks"
	"github.com/weave-agentd/weave-agentd/spool"
)

// handle answers the requests on the socket that are not hook events (ingest
// takes those).
func (d *Daemon) handle(req *hooks.Request) *hooks.Response {
	switch req.Op {
	case hooks.OpStatus:
		st, err := d.Status()
		if err != nil {
			return &hooks.Response{Error: err.Error()}
		}
		return okBody(st)
	case hooks.OpFlush:
		var args control.FlushArgs
		_ = json.Unmarshal(req.Args, &args)
		timeout := time.Duration(args.TimeoutMS) * time.Millisecond
		if timeout <= 0 {
			timeout = 30 * time.Second
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		return okBody(d.Flush(ctx))
	case hooks.OpCall:
		return d.call(control.Method(req.Method), req.Args)
	default:
		return &hooks.Response{Error: fmt.Sprintf("unknown operation %q (is the daemon older than this client? run 'weave-agentd restart')", req.Op)}
	}
}

func okBody(v any) *hooks.Response {
	b, err := json.Marshal(v)
	if err != nil {
		return &hooks.Response{Error: err.Error()}
	}
	return &hooks.Response{OK: true, Body: b}
}

// Flush exports everything held at the moment of the call: the inbox, spans
// from transcript bytes already on disk, and the spool.
func (d *Daemon) Flush(ctx context.Context) control.FlushResult {
	before, err := d.store.Stats()
	if err != nil {
		return control.FlushResult{Message: "reading the spool: " + err.Error()}
	}
	res := d.flush(ctx)
	after, err := d.store.Stats()
	if err != nil {
		res.Done = false
		res.Message = strings.TrimPrefix(res.Message+"; ", "; ") + "reading the spool: " + err.Error()
		return res
	}
	res.Remaining = after.Depth
	res.Exported = after.Counters[spool.CounterExported] - before.Counters[spool.CounterExported]
	res.DeadLettered = after.Counters[spool.CounterDeadLettered] - before.Counters[spool.CounterDeadLettered]
	return res
}

func (d *Daemon) flush(ctx context.Context) control.FlushResult {
	// An inbox that fails to drain (a folder at its path: the hooks write
	// beside it) is reported, after what could be flushed was.
	if err := d.ingest.DrainInbox(); err != nil {
		res := d.flushDrained(ctx)
		res.Done = false
		res.Message = strings.TrimSuffix("the hooks' inbox could not be stored: "+err.Error()+"; "+res.Message, "; ")
		return res
	}
	return d.flushDrained(ctx)
}

// flushDrained is flush once the inbox was drained.
func (d *Daemon) flushDrained(ctx context.Context) control.FlushResult {
	d.disc.RescanNow(ctx)
	if err := d.sess.Flush(ctx); err != nil {
		return control.FlushResult{Message: "transcripts not fully read: " + err.Error()}
	}
	if err := d.fwd.Flush(ctx); err != nil {
		return control.FlushResult{Message: err.Error()}
	}
	// The last write failed (a full disk) and none succeeded since: what
	// was read or received then is not stored, so it cannot be flushed.
	// (A probe write would not tell: small commits reuse the file's free
	// pages on a full disk.) The next commit that succeeds clears it.
	if msg, since := d.health.State(); msg != "" {
		return control.FlushResult{Message: fmt.Sprintf("writes to the spool fail since %s (%s): free space, run again any backfill that failed, then flush again", since.Format(time.RFC3339), msg)}
	}
	return control.FlushResult{Done: true}
}

// Status snapshots the daemon's health.
func (d *Daemon) Status() (control.Status, error) { return d.status.Status() }

// call dispatches the named methods of OpCall.
func (d *Daemon) call(method control.Method, args json.RawMessage) *hooks.Response {
	switch method {
	case control.MethodBackfillStart:
		a, err := decodeBackfillArgs(args)
		if err != nil {
			return &hooks.Response{Error: "backfill arguments: " + err.Error()}
		}
		job, err := d.sess.Backfill(a)
		if err != nil {
			return &hooks.Response{Error: err.Error()}
		}
		return okBody(job)
	case control.MethodBackfillProgress:
		job, ok := d.sess.BackfillProgress()
		if !ok {
			return &hooks.Response{Error: "no backfill has run since the daemon started"}
		}
		return okBody(job)
	case control.MethodSessionsExported:
		var q control.SessionsExportedArgs
		if err := json.Unmarshal(args, &q); err != nil {
			return &hooks.Response{Error: string(method) + " arguments: " + err.Error()}
		}
		return okBody(d.sess.ExportState(q))
	case control.MethodDeadLettersList:
		dls, err := d.store.DeadLetters(10000)
		if err != nil {
			return &hooks.Response{Error: err.Error()}
		}
		views := make([]control.DeadLetterView, 0, len(dls))
		for _, dl := range dls {
			v := control.DeadLetterView{Seq: dl.Seq, Time: dl.Time, Reason: dl.Reason, Candidates: dl.Candidates}
			var sp tracepb.Span
			if len(dl.Span) > 0 && proto.Unmarshal(dl.Span, &sp) == nil {
				v.Span, v.Trace, v.SpanID = sp.Name, hex.EncodeToString(sp.TraceId), hex.EncodeToString(sp.SpanId)
			}
			views = append(views, v)
		}
		return okBody(views)
	case control.MethodDeadLettersRetry:
		n, err := d.store.RetryDeadLetters(d.set.Now())
		if err != nil {
			return &hooks.Response{Error: err.Error()}
		}
		d.fwd.Kick()
		return okBody(control.DeadLetterResult{Count: n})
	case control.MethodDeadLettersDrop:
		n, err := d.store.DropDeadLetters()
		if err != nil {
			return &hooks.Response{Error: err.Error()}
		}
		return okBody(control.DeadLetterResult{Count: n})
	}
	return &hooks.Response{Error: fmt.Sprintf("unknown method %q (is the daemon older than this client? run 'weave-agentd restart')", method)}
}

func decodeBackfillArgs(raw json.RawMessage) (control.BackfillArgs, error) {
	var a control.BackfillArgs
	if len(raw) == 0 {
		return a, nil
	}
	err := json.Unmarshal(raw, &a)
	return a, err
}
