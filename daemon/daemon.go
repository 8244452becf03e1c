// Package daemon is weave-agentd's long-running process: the Unix socket
// server the hooks talk to, one ordered actor per agent session that tails
// transcripts and builds spans, the forwarder that exports the spool over
// OTLP, and the status/flush control surface.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weave-agentd/weave-agentd/config"
	"github.com/weave-agentd/weave-agentd/control"
	"github.com/weave-agentd/weave-agentd/daemon/export"
	"github.com/weave-agentd/weave-agentd/daemon/ingest"
	"github.com/weave-agentd/weave-agentd/daemon/status"
	"github.com/weave-agentd/weave-agentd/hooks"
	"github.com/weave-agentd/weave-agentd/redact"
	"github.com/weave-agentd/weave-agentd/spool"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// BuilderFactory makes the span builder for one session of an agent. The
// first event of the session (nil when the session is discovered from a file)
// and the transcript path known so far are given as hints.
type BuilderFactory func(agent, session, transcriptPath string) transcript.Builder

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

// Daemon is the running daemon. Create with New, then Start and Shutdown.
type Daemon struct {
	set     Settings
	log     *slog.Logger
	store   *spool.Store
	ingest  *ingest.Ingest
	sess    *sessions
	fwd     *export.Forwarder
	disc    *discovery
	bf      *backfiller
	health  *status.Health
	red     *redact.Redactor
	runCtx  context.Context
	started time.Time
	cfgErr  atomic.Pointer[control.ConfigError] // the latest failed reload, for status

	wg     sync.WaitGroup
	cancel context.CancelFunc
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
	if set.TickInterval <= 0 {
		set.TickInterval = time.Second
	}
	if set.InboxInterval <= 0 {
		set.InboxInterval = 2 * time.Second
	}
	if set.DiscoverWindow <= 0 {
		set.DiscoverWindow = time.Hour
	}
	if set.RescanInterval <= 0 {
		set.RescanInterval = 30 * time.Second
	}
	return &Daemon{set: set, log: set.Logger}, nil
}

// Start opens the spool, takes the socket, drains the inbox and starts the
// actors and the forwarder. A second daemon on the same home fails here with
// a clear message.
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

	red, err := redact.New(d.set.Config)
	if err != nil {
		store.Close()
		return err
	}
	d.red = red
	res, err := newResources(ctx, d.set)
	if err != nil {
		store.Close()
		return err
	}
	fwd, err := export.New(exportSettings(d.set), store)
	if err != nil {
		store.Close()
		return err
	}

	runCtx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	d.runCtx = runCtx
	d.fwd = fwd
	d.health = &status.Health{}
	exclude := ingest.NewExclusions(d.set.Config.Exclude)
	d.bf = &backfiller{d: d, ignored: exclude.Ignored}
	d.sess = newSessions(d.set, store, red, res, d.health, d.fwd.Notify)
	d.ingest = ingest.New(ingest.Settings{Logger: d.log, Now: d.set.Now, Paths: d.set.Paths, HookAgents: d.set.HookAgents,
		InboxInterval: d.set.InboxInterval, Deliver: d.sess.deliver, Control: d.handle, Warning: d.exportWarning},
		store, red, exclude, d.health)

	// Events stored before a stop come first, then the hooks' journal.
	if err := d.sess.restore(runCtx); err != nil {
		d.log.Warn("restoring sessions", "err", err)
	}
	if err := d.fwd.Start(ctx); err != nil {
		cancel()
		store.Close()
		return err
	}
	if err := d.ingest.Start(ctx); err != nil {
		cancel()
		d.sess.stop()
		_ = d.fwd.Shutdown(ctx)
		store.Close()
		return err
	}
	if n, err := d.sess.prune(d.set.Now()); err != nil {
		d.log.Warn("pruning finished sessions", "err", err)
	} else if n > 0 {
		d.log.Info("forgot the state of finished sessions", "sessions", n)
	}
	d.disc = newDiscovery(d.set, d.sess, exclude.Ignored)
	d.goRun(func() { d.disc.run(runCtx) })
	d.log.Info("weave-agentd started", "version", d.set.Version, "socket", d.set.Paths.Socket,
		"target", targetLabel(d.set.Target), "spool", d.set.Paths.Spool)
	return nil
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

// exportSettings are the export component's part of set.
func exportSettings(set Settings) export.Settings {
	return export.Settings{Logger: set.Logger, Now: set.Now, Target: set.Target, Transport: export.TransportOf(set.Config),
		SinkDir: set.Paths.SinkDir, SinkMaxBytes: set.SinkMaxBytes, Batch: set.ExportBatch, MaxBytes: set.ExportMaxBytes,
		Timeout: set.ExportTimeout, Backoff: set.ExportBackoff}
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

func (d *Daemon) goRun(fn func()) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		fn()
	}()
}

// Shutdown stops accepting, lets in-flight writes finish, stops the actors
// (their state is already committed) and closes the spool.
func (d *Daemon) Shutdown(ctx context.Context) error {
	var err error
	if d.ingest != nil {
		err = d.ingest.Shutdown(ctx) // stop accepting; in-flight handlers finish
	}
	if d.sess != nil {
		d.sess.stop()
	}
	if d.cancel != nil {
		d.cancel()
	}
	done := make(chan struct{})
	go func() { d.wg.Wait(); done <- struct{}{} }()
	select {
	case <-done:
	case <-ctx.Done():
		if err == nil {
			err = fmt.Errorf("shutdown: %w", ctx.Err())
		}
	}
	if d.fwd != nil {
		if ferr := d.fwd.Shutdown(ctx); ferr != nil && err == nil {
			err = ferr
		}
	}
	if d.store != nil {
		if cerr := d.store.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	d.log.Info("weave-agentd stopped")
	return err
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
