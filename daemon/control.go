package daemon

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/weave-agentd/weave-agentd/hooks"
	"github.com/weave-agentd/weave-agentd/spool"
)

// warnAfter is how long exports must have failed before hooks surface a
// warning to the user (Claude Code SessionStart systemMessage).
const warnAfter = 10 * time.Minute

// Status is what `weave-agentd status` shows; the JSON form is a contract
// for scripts.
type Status struct {
	Version        string      `json:"version"`
	PID            int         `json:"pid"`
	Started        time.Time   `json:"started"`
	UptimeSeconds  float64     `json:"uptime_seconds"`
	Endpoint       string      `json:"endpoint"`        // "" when writing the local file
	EndpointSource string      `json:"endpoint_source"` // config, weave, OTEL_* or none
	SinkFile       string      `json:"sink_file,omitempty"`
	Socket         string      `json:"socket"`
	SpoolFile      string      `json:"spool_file"`
	Spool          spool.Stats `json:"spool"`
	OldestAgeSec   float64     `json:"oldest_age_seconds"`
	ExportHealthy  bool        `json:"export_healthy"`
	FailingSince   *time.Time  `json:"failing_since,omitempty"`
	// ExportError is set while exports fail and spans wait: why, and what to do.
	ExportError    *ExportError     `json:"export_error,omitempty"`
	ActiveSessions int              `json:"active_sessions"`
	WatchedFiles   []string         `json:"watched_files"`
	Counters       map[string]int64 `json:"counters"`
	// StorageError is set while writes to the spool fail (a full disk).
	StorageError *StorageError `json:"storage_error,omitempty"`
	// ConfigError is set while the config file fails to reload: the daemon
	// runs on with the config it had.
	ConfigError *ConfigError `json:"config_error,omitempty"`
	// SkippedFiles are transcript paths not read (not regular files of
	// yours), newest first, at most 20; counters.skipped_files counts them.
	SkippedFiles []SkippedFile `json:"skipped_files"`
}

// ConfigError is the latest failed reload of the config file, and since
// when reloads fail.
type ConfigError struct {
	Message string    `json:"message"`
	Since   time.Time `json:"since"`
}

// ExportError is why exports fail. Refused means the server refuses our
// requests (credentials, URL, or every span alike): waiting will not fix it.
type ExportError struct {
	Message string `json:"message"`
	Status  int    `json:"status,omitempty"` // HTTP status (0: no answer)
	Hint    string `json:"hint,omitempty"`
	Refused bool   `json:"refused,omitempty"`
}

// StorageError is the latest failed write to the spool, and since when
// writes fail.
type StorageError struct {
	Message string    `json:"message"`
	Since   time.Time `json:"since"`
}

// FlushArgs and FlushResult are the flush request's body.
type FlushArgs struct {
	TimeoutMS int64 `json:"timeout_ms"`
}

// FlushResult reports what remains after a flush, and what the server did
// with the spans meanwhile: Exported were accepted, DeadLettered refused for
// good (kept as dead letters, never counted as accepted).
type FlushResult struct {
	Done         bool   `json:"done"`
	Remaining    int64  `json:"remaining"`
	Exported     int64  `json:"exported"`
	DeadLettered int64  `json:"dead_lettered"`
	Message      string `json:"message,omitempty"`
}

func (d *Daemon) handle(_ net.Conn, req *hooks.Request) *hooks.Response {
	switch req.Op {
	case hooks.OpEvent:
		if req.Event == nil {
			// Counted as a malformed event, like one without an id.
			if err := d.ingest.accept(&hooks.Event{}); err != nil {
				d.log.Error("counting a malformed hook event", "err", err)
			}
			return &hooks.Response{Error: "event request without an event"}
		}
		if err := d.ingest.accept(req.Event); err != nil {
			d.log.Error("storing a hook event", "err", err)
			return &hooks.Response{Error: "store: " + err.Error()}
		}
		return &hooks.Response{OK: true, Warning: d.exportWarning()}
	case hooks.OpStatus:
		st, err := d.Status()
		if err != nil {
			return &hooks.Response{Error: err.Error()}
		}
		return okBody(st)
	case hooks.OpFlush:
		var args FlushArgs
		_ = json.Unmarshal(req.Args, &args)
		timeout := time.Duration(args.TimeoutMS) * time.Millisecond
		if timeout <= 0 {
			timeout = 30 * time.Second
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		return okBody(d.Flush(ctx))
	case hooks.OpCall:
		return d.call(req.Method, req.Args)
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
func (d *Daemon) Flush(ctx context.Context) FlushResult {
	before, err := d.store.Stats()
	if err != nil {
		return FlushResult{Message: "reading the spool: " + err.Error()}
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

func (d *Daemon) flush(ctx context.Context) FlushResult {
	if err := d.ingest.drainInbox(); err != nil {
		return FlushResult{Message: "the hooks' inbox could not be stored: " + err.Error()}
	}
	d.disc.rescanNow(ctx)
	if err := d.sess.flush(ctx); err != nil {
		return FlushResult{Message: "transcripts not fully read: " + err.Error()}
	}
	if err := d.fwd.flush(ctx); err != nil {
		return FlushResult{Message: err.Error()}
	}
	// The last write failed (a full disk) and none succeeded since: what
	// was read or received then is not stored, so it cannot be flushed.
	// (A probe write would not tell: small commits reuse the file's free
	// pages on a full disk.) The next commit that succeeds clears it.
	if msg, since := d.health.state(); msg != "" {
		return FlushResult{Message: fmt.Sprintf("writes to the spool fail since %s (%s): free space, run again any backfill that failed, then flush again", since.Format(time.RFC3339), msg)}
	}
	return FlushResult{Done: true}
}

// Status snapshots the daemon's health.
func (d *Daemon) Status() (Status, error) {
	st, err := d.store.Stats()
	if err != nil {
		return Status{}, err
	}
	now := d.set.Now()
	h := d.fwd.health()
	active, files := d.sess.stats()
	s := Status{
		Version: d.set.Version, PID: os.Getpid(), Started: d.started, UptimeSeconds: now.Sub(d.started).Seconds(),
		Endpoint: d.set.Target.URL, EndpointSource: d.set.Target.Source,
		Socket: d.set.Paths.Socket, SpoolFile: d.set.Paths.Spool, Spool: st,
		ExportHealthy: h.OK || st.Depth == 0, ActiveSessions: active, WatchedFiles: files, Counters: st.Counters,
	}
	if files == nil {
		s.WatchedFiles = []string{}
	}
	s.SkippedFiles = d.sess.skips.list()
	if d.set.Target.URL == "" {
		s.SinkFile = SinkFile(d.set.Paths.SinkDir)
	}
	if !st.Oldest.IsZero() {
		s.OldestAgeSec = now.Sub(st.Oldest).Seconds()
	}
	if !h.FailingSince.IsZero() {
		s.FailingSince = &h.FailingSince
	}
	if !s.ExportHealthy {
		s.ExportError = &ExportError{Message: h.Message, Status: h.Status, Hint: h.Hint, Refused: h.Refused}
	}
	if msg, since := d.health.state(); msg != "" {
		s.StorageError = &StorageError{Message: msg, Since: since}
	}
	s.ConfigError = d.cfgErr.Load()
	return s, nil
}

// exportWarning is the message hooks show the user while exports fail: at
// once when the server refuses our requests (that does not heal by itself),
// after warnAfter otherwise.
func (d *Daemon) exportWarning() string {
	h := d.fwd.health()
	if h.OK || h.FailingSince.IsZero() || (!h.Refused && d.set.Now().Sub(h.FailingSince) < warnAfter) {
		return ""
	}
	st, err := d.store.Stats()
	if err != nil || st.Depth == 0 {
		return ""
	}
	what := "exports have failed"
	if h.Refused {
		what = "the server refuses exports"
		if h.Status != 0 {
			what += fmt.Sprintf(" (HTTP %d)", h.Status)
		}
	}
	msg := fmt.Sprintf("weave-agentd: %s since %s; %d span(s) are kept safely in the spool.",
		what, h.FailingSince.Format("15:04"), st.Depth)
	if h.Message != "" {
		msg += " Last error: " + truncate(h.Message, 160) + "."
	}
	if h.Hint != "" {
		msg += " Hint: " + h.Hint + "."
	}
	return msg + " Run 'weave-agentd status' for details."
}

// DeadLetterView is one dead letter as `deadletters list` shows it.
type DeadLetterView struct {
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	Reason string    `json:"reason"`
	Span   string    `json:"span,omitempty"` // name
	Trace  string    `json:"trace_id,omitempty"`
	SpanID string    `json:"span_id,omitempty"`
}

// DeadLetterResult answers retry and drop.
type DeadLetterResult struct {
	Count int `json:"count"`
}

// call dispatches the named methods of OpCall.
func (d *Daemon) call(method string, args json.RawMessage) *hooks.Response {
	switch method {
	case "backfill.start":
		a, err := decodeBackfillArgs(args)
		if err != nil {
			return &hooks.Response{Error: "backfill arguments: " + err.Error()}
		}
		job, err := d.bf.start(a)
		if err != nil {
			return &hooks.Response{Error: err.Error()}
		}
		return okBody(job)
	case "backfill.progress":
		job, ok := d.bf.progress()
		if !ok {
			return &hooks.Response{Error: "no backfill has run since the daemon started"}
		}
		return okBody(job)
	case "sessions.exported":
		var q SessionsExportedArgs
		if err := json.Unmarshal(args, &q); err != nil {
			return &hooks.Response{Error: "sessions.exported arguments: " + err.Error()}
		}
		return okBody(d.sessionsExported(q))
	case "deadletters.list":
		dls, err := d.store.DeadLetters(10000)
		if err != nil {
			return &hooks.Response{Error: err.Error()}
		}
		views := make([]DeadLetterView, 0, len(dls))
		for _, dl := range dls {
			v := DeadLetterView{Seq: dl.Seq, Time: dl.Time, Reason: dl.Reason}
			var sp tracepb.Span
			if len(dl.Span) > 0 && proto.Unmarshal(dl.Span, &sp) == nil {
				v.Span, v.Trace, v.SpanID = sp.Name, hex.EncodeToString(sp.TraceId), hex.EncodeToString(sp.SpanId)
			}
			views = append(views, v)
		}
		return okBody(views)
	case "deadletters.retry":
		n, err := d.store.RetryDeadLetters(d.set.Now())
		if err != nil {
			return &hooks.Response{Error: err.Error()}
		}
		d.fwd.kick()
		return okBody(DeadLetterResult{Count: n})
	case "deadletters.drop":
		n, err := d.store.DropDeadLetters()
		if err != nil {
			return &hooks.Response{Error: err.Error()}
		}
		return okBody(DeadLetterResult{Count: n})
	}
	return &hooks.Response{Error: fmt.Sprintf("unknown method %q (is the daemon older than this client? run 'weave-agentd restart')", method)}
}

// SessionsExportedArgs asks how far the daemon got with some conversations
// (`weave-agentd sessions` shows it as EXPORTED).
type SessionsExportedArgs struct {
	Sessions []SessionQuery `json:"sessions"`
}

// SessionQuery names one conversation and its transcript files.
type SessionQuery struct {
	Agent   string   `json:"agent"`   // genai.AgentClaudeCode or genai.AgentCursor
	Session string   `json:"session"` // session / conversation id
	Files   []string `json:"files"`   // absolute paths: main transcript first
}

// SessionsExported answers SessionsExportedArgs.
type SessionsExported struct {
	Sessions []SessionExportState `json:"sessions"`
}

// SessionExportState is what the daemon knows of one conversation.
type SessionExportState struct {
	Agent   string `json:"agent"`
	Session string `json:"session"`
	// Known: a session record, or a committed offset for one of the files.
	Known bool `json:"known"`
	// Offsets: the committed read offset of each listed file that has one.
	Offsets map[string]int64 `json:"offsets,omitempty"`
	// PendingSpans: spans of the conversation still in the spool; -1 when
	// the spool is too deep to count.
	PendingSpans int64 `json:"pending_spans"`
	// DeadLetters: spans of the conversation the server rejected for good.
	DeadLetters int64 `json:"dead_letters,omitempty"`
}

// maxCountedSpans bounds the spool scan behind PendingSpans.
const maxCountedSpans = 200000

func (d *Daemon) sessionsExported(q SessionsExportedArgs) SessionsExported {
	pending, dead, counted := d.spansByConversation()
	out := SessionsExported{Sessions: make([]SessionExportState, 0, len(q.Sessions))}
	_ = d.store.View(func(t *spool.Tx) error {
		for _, s := range q.Sessions {
			st := SessionExportState{Agent: s.Agent, Session: s.Session, PendingSpans: -1}
			st.Known = t.Session(sessionKey(s.Agent, s.Session)) != nil
			for _, f := range s.Files {
				if b := t.Offset(f); b != nil {
					if st.Offsets == nil {
						st.Offsets = map[string]int64{}
					}
					st.Offsets[f] = decodeFileState(b).Offset
					st.Known = true
				}
			}
			if counted {
				st.PendingSpans = pending[s.Session]
			}
			st.DeadLetters = dead[s.Session]
			out.Sessions = append(out.Sessions, st)
		}
		return nil
	})
	return out
}

// spansByConversation counts queued and dead-lettered spans per
// gen_ai.conversation.id; counted is false when the queue is too deep.
func (d *Daemon) spansByConversation() (pending, dead map[string]int64, counted bool) {
	pending, dead = map[string]int64{}, map[string]int64{}
	conv := func(b []byte) string {
		var sp tracepb.Span
		if proto.Unmarshal(b, &sp) != nil {
			return ""
		}
		for _, kv := range sp.Attributes {
			if kv.Key == "gen_ai.conversation.id" {
				return kv.Value.GetStringValue()
			}
		}
		return ""
	}
	st, err := d.store.Stats()
	if err == nil && st.Depth <= maxCountedSpans {
		counted = true
		items, _ := d.store.Peek(maxCountedSpans, 1<<40)
		for _, it := range items {
			pending[conv(it.Span)]++
		}
	}
	dls, _ := d.store.DeadLetters(10000)
	for _, dl := range dls {
		if len(dl.Span) > 0 {
			dead[conv(dl.Span)]++
		}
	}
	return pending, dead, counted
}

// truncate shortens s to at most n bytes (on a rune boundary), marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
