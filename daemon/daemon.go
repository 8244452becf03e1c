// Package daemon is weave-agentd's long-running process. It only wires its
// components, each with one job and the same lifecycle (New, Start,
// Shutdown), as the OpenTelemetry Collector does:
//
//   - export (daemon/export): the forwarder that sends the spool's spans
//     over OTLP/HTTP, or to the local file sink;
//   - sessions (daemon/sessions): one ordered actor per agent session that
//     tails its transcripts and builds spans, and the backfill through them;
//   - ingest (daemon/ingest): the Unix socket server the hooks talk to, the
//     durable storage of their events and the drain of their inbox;
//   - discovery (daemon/sessions): actors for transcripts found on disk;
//   - status (daemon/status, and Status here): what status and flush say.
//
// They are started in that order (what receives input last) and shut down
// in the reverse one.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/weave-agentd/weave-agentd/config"
	"github.com/weave-agentd/weave-agentd/control"
	"github.com/weave-agentd/weave-agentd/daemon/export"
	"github.com/weave-agentd/weave-agentd/daemon/ingest"
	"github.com/weave-agentd/weave-agentd/daemon/sessions"
	"github.com/weave-agentd/weave-agentd/daemon/status"
	"github.com/weave-agentd/weave-agentd/hooks"
	"github.com/weave-agentd/weave-agentd/redact"
	"github.com/weave-agentd/weave-agentd/spool"
)

// BuilderFactory makes the span builder for one session of an agent. The
// first event of the session (nil when the session is discovered from a file)
// and the transcript path known so far are given as hints.
type BuilderFactory = sessions.BuilderFactory

// DiscoverRoot is the folder where an agent keeps its session transcripts
// (the Root of its transcript.Layout under its home), watched so sessions
// are traced even when no hook fires.
type DiscoverRoot = sessions.DiscoverRoot

// Settings are injected by the caller (cmd, or tests), as in the Collector.
type Settings struct {
	Paths    hooks.Paths
	Config   *config.Config
	Target   config.Target
	Logger   *slog.Logger
	Version  string
	Builders map[string]BuilderFactory // by agent: genai.AgentClaudeCode, genai.AgentCursor
	// HookAgents maps the name each agent's hook client sends
	// (hooks.AgentClaude) to the agent's name (genai.AgentClaudeCode).
	// Hook events of any other agent are refused.
	HookAgents map[string]string
	Now        func() time.Time // nil: time.Now

	// Tunables; zero values take production defaults.
	TickInterval  time.Duration // session actors' periodic step (1s)
	InboxInterval time.Duration // inbox re-scan while running (2s)
	ExportBackoff export.Backoff
	Discover      []DiscoverRoot // transcript folders watched even without hooks
	// AgentHomes maps an agent's name to its home folder, to tell whose a
	// transcript path given to backfill is (see agents.ForPath).
	AgentHomes     map[string]string
	DiscoverWindow time.Duration // discover files modified this recently at start (1h)
	RescanInterval time.Duration // periodic discovery rescan (30s)
	ExportBatch    int           // spans per request (512)
	ExportMaxBytes int           // bytes per request before gzip (4 MiB)
	ExportTimeout  time.Duration // one export request, connect to last byte (30s)
	SinkMaxBytes   int64         // file sink rotation size (64 MiB)
}

// component is the lifecycle every part of the daemon shares.
type component interface {
	Start(ctx context.Context) error
	Shutdown(ctx context.Context) error
}

// Daemon is the running daemon. Create with New, then Start and Shutdown.
type Daemon struct {
	set     Settings
	log     *slog.Logger
	store   *spool.Store
	red     *redact.Redactor
	health  *status.Health // writes to the spool, by ingest and the sessions
	fwd     *export.Forwarder
	sess    *sessions.Actors
	ingest  *ingest.Ingest
	disc    *sessions.Discovery
	status  *status.Reporter
	started time.Time
	running []component                         // started, in order
	cfgErr  atomic.Pointer[control.ConfigError] // the latest failed reload, for status
}

// New validates settings; it opens nothing yet.
func New(set Settings) (*Daemon, error) {
	if set.Logger == nil {
		set.Logger = slog.New(slog.DiscardHandler)
	}
	if set.Config == nil {
		return nil, errors.New("daemon: no config")
	}
	if set.Now == nil {
		set.Now = time.Now
	}
	return &Daemon{set: set, log: set.Logger}, nil
}

// Start opens the spool and starts the components: the forwarder, the
// session actors (resuming what the spool holds), ingest (the socket, and
// the inbox drained) and discovery. A second daemon on the same home fails
// here with a clear message.
func (d *Daemon) Start(ctx context.Context) error {
	if err := ingest.PrepareFolders(d.set.Paths); err != nil {
		return err
	}
	store, err := spool.Open(d.set.Paths.Spool, spool.Options{MaxBytes: d.set.Config.SpoolMaxBytes})
	if errors.Is(err, spool.ErrLocked) {
		return fmt.Errorf("another weave-agentd daemon is already running for this home (%s): use 'weave-agentd status', or stop it first", d.set.Paths.StateDir)
	}
	if err != nil {
		return err
	}
	d.store = store
	d.started = d.set.Now()
	if err := d.build(); err != nil {
		store.Close()
		return err
	}
	// Events stored before a stop come first, then the hooks' journal,
	// then transcripts found on disk.
	for _, c := range []component{d.fwd, d.sess, d.ingest, d.disc} {
		if err := c.Start(ctx); err != nil {
			if serr := d.stop(ctx); serr != nil {
				d.log.Warn("stopping what had started", "err", serr)
			}
			return err
		}
		d.running = append(d.running, c)
	}
	d.log.Info("weave-agentd started", "version", d.set.Version, "socket", d.set.Paths.Socket,
		"target", targetLabel(d.set.Target), "spool", d.set.Paths.Spool)
	return nil
}

// build makes the components from the settings, each given only what it
// needs.
func (d *Daemon) build() error {
	set := d.set
	red, err := redact.New(set.Config)
	if err != nil {
		return err
	}
	d.red = red
	d.health = &status.Health{}
	d.fwd, err = export.New(exportSettings(set), d.store)
	if err != nil {
		return err
	}
	exclude := ingest.NewExclusions(set.Config.Exclude)
	d.sess = sessions.New(sessions.Settings{
		Logger: set.Logger, Now: set.Now, Version: set.Version,
		CaptureHost: set.Config.CaptureHost == nil || *set.Config.CaptureHost, ServiceName: set.Config.ServiceName,
		Builders: set.Builders, HookAgents: set.HookAgents, TickInterval: set.TickInterval,
		Discover: set.Discover, AgentHomes: set.AgentHomes,
		Ignored: exclude.Ignored, Exported: d.fwd.Notify, Kick: d.fwd.Kick,
	}, d.store, red, d.health)
	d.ingest = ingest.New(ingest.Settings{
		Logger: set.Logger, Now: set.Now, Paths: set.Paths, HookAgents: set.HookAgents, InboxInterval: set.InboxInterval,
		Deliver: d.sess.Deliver, Control: d.handle,
		Warning: func() string { return d.status.Warning() }, // made below, from ingest's state too
	}, d.store, red, exclude, d.health)
	d.disc = sessions.NewDiscovery(sessions.DiscoverySettings{
		Logger: set.Logger, Now: set.Now, Roots: set.Discover, Window: set.DiscoverWindow,
		RescanInterval: set.RescanInterval, Ignored: exclude.Ignored,
	}, d.sess)
	d.status = status.NewReporter(status.Settings{Now: set.Now, Version: set.Version, Started: d.started, Paths: set.Paths, Target: set.Target},
		status.Sources{Store: d.store, Exports: d.fwd.Health, Sessions: d.sess.Stats, Skipped: d.sess.Skipped,
			Storage: d.health, Inbox: d.ingest.InboxError, Config: d.cfgErr.Load})
	return nil
}

// exportSettings are the export component's part of set.
func exportSettings(set Settings) export.Settings {
	return export.Settings{Logger: set.Logger, Now: set.Now, Target: set.Target, Transport: export.TransportOf(set.Config),
		SinkDir: set.Paths.SinkDir, SinkMaxBytes: set.SinkMaxBytes, Batch: set.ExportBatch, MaxBytes: set.ExportMaxBytes,
		Timeout: set.ExportTimeout, Backoff: set.ExportBackoff}
}

// CheckConfig reports what Start would refuse in set's config (a redact
// pattern, a proxy URL, the CA or client certificate files) without opening
// anything: a reload checks the new config with it before it stops the
// daemon running on the old one.
func CheckConfig(set Settings) error {
	if set.Config == nil {
		return errors.New("daemon: no config")
	}
	if _, err := redact.New(set.Config); err != nil {
		return err
	}
	if set.Target.URL != "" {
		return export.TransportOf(set.Config).Check()
	}
	return nil
}

// ReloadFailed records that the config file could not be reloaded: the
// daemon runs on with the config it has, logs why, and status shows it
// (and exits 1) until a reload succeeds, which starts a new Daemon.
func (d *Daemon) ReloadFailed(err error) {
	msg := err.Error()
	if d.red != nil {
		msg = d.red.String(msg) // an endpoint or proxy URL may carry a password
	}
	ce := &control.ConfigError{Message: msg, Since: d.set.Now()}
	if prev := d.cfgErr.Load(); prev != nil {
		ce.Since = prev.Since
	}
	d.cfgErr.Store(ce)
	d.log.Error("config reload failed; the daemon runs on with the config it had", "err", msg,
		"hint", "fix the file, then reload again: systemctl --user reload weave-agentd (or kill -HUP the daemon)")
}

// Shutdown stops the components in the reverse order of their start:
// discovery, ingest (no more connections; requests being handled finish),
// the actors (their state is already committed), the forwarder; then it
// closes the spool.
func (d *Daemon) Shutdown(ctx context.Context) error {
	err := d.stop(ctx)
	d.log.Info("weave-agentd stopped")
	return err
}

func (d *Daemon) stop(ctx context.Context) error {
	var errs []error
	for i := len(d.running) - 1; i >= 0; i-- {
		errs = append(errs, d.running[i].Shutdown(ctx))
	}
	d.running = nil
	if d.store != nil {
		// Kept, closed: a request still being handled (a flush, a status
		// during the shutdown) gets spool.ErrClosed from it.
		errs = append(errs, d.store.Close())
	}
	return errors.Join(errs...)
}

func targetLabel(t config.Target) string {
	if t.URL == "" {
		return "local OTLP/JSON file"
	}
	return t.URL
}

// SinkFile is the file the daemon writes spans to when no endpoint is
// configured (Paths.SinkDir).
func SinkFile(dir string) string { return export.SinkFile(dir) }
