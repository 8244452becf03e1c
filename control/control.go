// Package control is the protocol between the weave-agentd CLI and its
// daemon: the names of the commands the CLI sends over the socket, and the
// request and answer bodies. Both sides use these types, so they cannot
// drift; the JSON field names are the wire format (an older CLI talks to a
// newer daemon and the other way round), and `status --json` prints Status
// as a contract for scripts: rename nothing.
//
// The frames themselves (hooks.Request, hooks.Response) belong to package
// hooks, which the hook binary shares. Status and flush are operations of
// their own (hooks.OpStatus, hooks.OpFlush); every other command is a
// hooks.OpCall naming a Method.
package control

import (
	"encoding/json"
	"time"

	"github.com/weave-agentd/weave-agentd/hooks"
	"github.com/weave-agentd/weave-agentd/spool"
)

// Method names a command carried by hooks.OpCall.
type Method string

// The daemon's commands.
const (
	MethodBackfillStart    Method = "backfill.start"    // BackfillArgs → BackfillProgress
	MethodBackfillProgress Method = "backfill.progress" // → BackfillProgress
	MethodSessionsExported Method = "sessions.exported" // SessionsExportedArgs → SessionsExported
	MethodDeadLettersList  Method = "deadletters.list"  // → []DeadLetterView
	MethodDeadLettersRetry Method = "deadletters.retry" // → DeadLetterResult
	MethodDeadLettersDrop  Method = "deadletters.drop"  // → DeadLetterResult
)

// Request is the socket request that asks the daemon to run m; args is the
// JSON body (nil: none).
func Request(m Method, args json.RawMessage) *hooks.Request {
	return &hooks.Request{Op: hooks.OpCall, Method: string(m), Args: args}
}

// Status is what `weave-agentd status` shows (hooks.OpStatus); the JSON
// form is a contract for scripts.
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
	// InboxError is set while the hooks' inbox journal cannot be drained
	// (not a regular file of yours): events journaled there wait.
	InboxError *StorageError `json:"inbox_error,omitempty"`
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

// SkippedFile is a transcript path the daemon does not read (status).
type SkippedFile struct {
	Path   string    `json:"path"`
	Reason string    `json:"reason"`
	Since  time.Time `json:"since"`
}

// FlushArgs is the flush request's body (hooks.OpFlush).
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

// BackfillArgs asks the daemon to import existing transcripts
// (MethodBackfillStart).
type BackfillArgs struct {
	Paths []string `json:"paths,omitempty"` // files or folders; empty: every discovery root
	Since string   `json:"since,omitempty"` // Go duration; files modified earlier are skipped
	Agent string   `json:"agent,omitempty"` // claude-code or cursor; empty: all
}

// BackfillProgress reports a backfill job.
type BackfillProgress struct {
	ID        int       `json:"id"`
	Started   time.Time `json:"started"`
	Files     int       `json:"files"`
	FilesDone int       `json:"files_done"`
	Bytes     int64     `json:"bytes"`      // total size of the files
	BytesDone int64     `json:"bytes_done"` // bytes of finished files
	Spans     int64     `json:"spans"`      // spans queued since the job started
	Current   string    `json:"current,omitempty"`
	Done      bool      `json:"done"`
	Error     string    `json:"error,omitempty"`
	Skipped   []string  `json:"skipped,omitempty"` // paths that are not transcripts
}

// DeadLetterView is one dead letter as `deadletters list` shows it.
type DeadLetterView struct {
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	Reason string    `json:"reason"`
	Span   string    `json:"span,omitempty"` // name
	Trace  string    `json:"trace_id,omitempty"`
	SpanID string    `json:"span_id,omitempty"`
	// Candidates: the spans of a request answered with a partial success,
	// which names none; the rejected are among them.
	Candidates []spool.SpanRef `json:"candidates,omitempty"`
}

// DeadLetterResult answers retry and drop.
type DeadLetterResult struct {
	Count int `json:"count"`
}

// SessionsExportedArgs asks how far the daemon got with some conversations
// (`weave-agentd sessions` shows it as EXPORTED).
type SessionsExportedArgs struct {
	Sessions []SessionQuery `json:"sessions"`
}

// SessionQuery names one conversation and its transcript files.
type SessionQuery struct {
	Agent   string   `json:"agent"`   // its transcript.Agent Name (genai.AgentClaudeCode …)
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
