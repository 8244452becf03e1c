package status

import (
	"fmt"
	"os"
	"time"
	"unicode/utf8"

	"github.com/weave-agentd/weave-agentd/config"
	"github.com/weave-agentd/weave-agentd/control"
	"github.com/weave-agentd/weave-agentd/daemon/export"
	"github.com/weave-agentd/weave-agentd/hooks"
	"github.com/weave-agentd/weave-agentd/spool"
)

// warnAfter is how long exports must have failed before hooks surface a
// warning to the user (Claude Code SessionStart systemMessage).
const warnAfter = 10 * time.Minute

// Settings are what status says of the daemon itself.
type Settings struct {
	Now     func() time.Time
	Version string
	Started time.Time
	Paths   hooks.Paths // the socket, the spool, the sink's folder
	Target  config.Target
}

// Sources are where status reads the components' state.
type Sources struct {
	Store    *spool.Store
	Exports  func() export.Health
	Sessions func() (active int, files []string) // live sessions and the files they tail
	Skipped  func() []control.SkippedFile        // transcript paths not read
	Storage  *Health                             // writes to the spool
	Inbox    func() (string, time.Time)          // the latest inbox drain failure
	Config   func() *control.ConfigError         // the latest failed reload
}

// Reporter answers status, and the warning hooks show while exports fail.
type Reporter struct {
	set Settings
	src Sources
}

// NewReporter makes the status of a daemon from its components' state.
func NewReporter(set Settings, src Sources) *Reporter {
	if set.Now == nil {
		set.Now = time.Now
	}
	return &Reporter{set: set, src: src}
}

// Status snapshots the daemon's health.
func (r *Reporter) Status() (control.Status, error) {
	st, err := r.src.Store.Stats()
	if err != nil {
		return control.Status{}, err
	}
	now := r.set.Now()
	h := r.src.Exports()
	active, files := r.src.Sessions()
	s := control.Status{
		Version: r.set.Version, PID: os.Getpid(), Started: r.set.Started, UptimeSeconds: now.Sub(r.set.Started).Seconds(),
		Endpoint: r.set.Target.URL, EndpointSource: r.set.Target.Source,
		Socket: r.set.Paths.Socket, SpoolFile: r.set.Paths.Spool, Spool: st,
		ExportHealthy: h.OK || st.Depth == 0, ActiveSessions: active, WatchedFiles: files, Counters: st.Counters,
	}
	if files == nil {
		s.WatchedFiles = []string{}
	}
	s.SkippedFiles = r.src.Skipped()
	if r.set.Target.URL == "" {
		s.SinkFile = export.SinkFile(r.set.Paths.SinkDir)
	}
	if !st.Oldest.IsZero() {
		s.OldestAgeSec = now.Sub(st.Oldest).Seconds()
	}
	if !h.FailingSince.IsZero() {
		s.FailingSince = &h.FailingSince
	}
	if !s.ExportHealthy {
		s.ExportError = &control.ExportError{Message: h.Message, Status: h.Status, Hint: h.Hint, Refused: h.Refused}
	}
	if msg, since := r.src.Storage.State(); msg != "" {
		s.StorageError = &control.StorageError{Message: msg, Since: since}
	}
	s.ConfigError = r.src.Config()
	if msg, since := r.src.Inbox(); msg != "" {
		s.InboxError = &control.StorageError{Message: msg, Since: since}
	}
	return s, nil
}

// Warning is the message hooks show the user while exports fail: at once
// when the server refuses our requests (that does not heal by itself),
// after warnAfter otherwise.
func (r *Reporter) Warning() string {
	h := r.src.Exports()
	if h.OK || h.FailingSince.IsZero() || (!h.Refused && r.set.Now().Sub(h.FailingSince) < warnAfter) {
		return ""
	}
	st, err := r.src.Store.Stats()
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
		msg += " Last error: " + Truncate(h.Message, 160) + "."
	}
	if h.Hint != "" {
		msg += " Hint: " + h.Hint + "."
	}
	return msg + " Run 'weave-agentd status' for details."
}

// Truncate shortens s to at most n bytes (on a rune boundary), marking the
// cut: for a message shown to people or logged.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
