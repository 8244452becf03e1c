// Package sessions turns what agents leave behind into spans: one actor per
// agent session applies its hook events and the new lines of its transcript
// files (tailed from saved offsets, several files merged in the order they
// were written) to the agent's span builder, and commits the spans, offsets
// and builder state together. Discovery starts actors for transcripts found
// on disk; backfill reads existing transcripts through the same actors.
package sessions

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/weave-agentd/weave-agentd/control"
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

// Settings are what the session actors need.
type Settings struct {
	Logger *slog.Logger
	Now    func() time.Time
	// Version, CaptureHost and ServiceName make the spans' resource:
	// weave_agentd.version, host.name and os.type when CaptureHost, and a
	// service.name that overrides the agent's.
	Version     string
	CaptureHost bool
	ServiceName string
	Builders    map[string]BuilderFactory // by agent: genai.AgentClaudeCode, genai.AgentCursor
	// HookAgents maps the name each agent's hook client sends to the
	// agent's name.
	HookAgents   map[string]string
	TickInterval time.Duration // the actors' periodic step (1s)
	// Discover are the transcript folders a backfill walks; AgentHomes
	// tell whose a path given to backfill is (see transcript.AgentForPath).
	Discover   []DiscoverRoot
	AgentHomes map[string]string
	// Ignored reports a folder of a project the user keeps out.
	Ignored func(dir string) bool
	// Exported wakes the export: new spans are in the spool. Kick asks it
	// to send now (a backfill is done).
	Exported func()
	Kick     func()
}

// Actors is the sessions component: the session actors, and the backfill
// that reads through them. Create with New, then Start and Shutdown.
type Actors struct {
	set    Settings
	store  *spool.Store
	red    *redact.Redactor
	health *status.Health
	sess   *sessions
	bf     *backfiller
}

// New makes the sessions component. Spans are redacted by red; writes to
// the spool that fail are recorded in health.
func New(set Settings, store *spool.Store, red *redact.Redactor, health *status.Health) *Actors {
	if set.Logger == nil {
		set.Logger = slog.New(slog.DiscardHandler)
	}
	if set.Now == nil {
		set.Now = time.Now
	}
	if set.TickInterval <= 0 {
		set.TickInterval = time.Second
	}
	for _, f := range []*func(){&set.Exported, &set.Kick} {
		if *f == nil {
			*f = func() {}
		}
	}
	if set.Ignored == nil {
		set.Ignored = func(string) bool { return false }
	}
	return &Actors{set: set, store: store, red: red, health: health}
}

// Start detects the resource and resumes the sessions the spool holds:
// those active in the last day, and those with events stored but not yet
// applied when the daemon stopped. It then forgets finished sessions, and
// again every hour. Call it before events are delivered.
func (c *Actors) Start(ctx context.Context) error {
	res, err := newResources(ctx, c.set)
	if err != nil {
		return err
	}
	c.sess = newSessions(c.set, c.store, c.red, res, c.health, c.set.Exported)
	c.bf = &backfiller{set: c.set, store: c.store, sess: c.sess}
	if err := c.sess.restore(ctx); err != nil {
		c.set.Logger.Warn("restoring sessions", "err", err)
	}
	if n, err := c.sess.prune(c.set.Now()); err != nil {
		c.set.Logger.Warn("pruning finished sessions", "err", err)
	} else if n > 0 {
		c.set.Logger.Info("forgot the state of finished sessions", "sessions", n)
	}
	return nil
}

// Shutdown stops the actors and a running backfill; their state is already
// committed.
func (c *Actors) Shutdown(ctx context.Context) error {
	if c.sess == nil {
		return nil
	}
	done := make(chan struct{})
	go func() { c.sess.stop(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sessions shutdown: %w", ctx.Err())
	}
}

// Deliver routes a stored hook event (spool sequence seq) to its session's
// actor, with its payload decoded once on its way (hook).
func (c *Actors) Deliver(seq uint64, ev *hooks.Event, hook *hooks.Common) {
	c.sess.deliver(seq, ev, hook)
}

// Flush makes every live actor read its files to EOF and commit, and
// waits; it fails when an actor could not commit.
func (c *Actors) Flush(ctx context.Context) error { return c.sess.flush(ctx) }

// Stats reports the live sessions and the files they tail.
func (c *Actors) Stats() (active int, files []string) { return c.sess.stats() }

// Skipped lists the transcript paths not read (not regular files of
// ours), newest first.
func (c *Actors) Skipped() []control.SkippedFile { return c.sess.skips.list() }

// Prune forgets the saved state of finished sessions (see sessions.prune).
func (c *Actors) Prune(now time.Time) (int, error) { return c.sess.prune(now) }

// Backfill starts importing existing transcripts, or reports the import
// running.
func (c *Actors) Backfill(args control.BackfillArgs) (control.BackfillProgress, error) {
	return c.bf.start(args)
}

// BackfillProgress reports the latest backfill; false when none ran.
func (c *Actors) BackfillProgress() (control.BackfillProgress, bool) { return c.bf.progress() }

// DiscoverySettings are what transcript discovery needs.
type DiscoverySettings struct {
	Logger         *slog.Logger
	Now            func() time.Time
	Roots          []DiscoverRoot // the folders watched
	Window         time.Duration  // files modified this recently at start are read (1h)
	RescanInterval time.Duration  // periodic rescan (30s)
	Ignored        func(dir string) bool
}

// Discovery watches the agents' transcript folders and starts a session
// actor for every main transcript that changes, so sessions are traced
// even when no hook fires. Create with NewDiscovery, then Start and
// Shutdown.
type Discovery struct {
	set    DiscoverySettings
	actors *Actors
	d      *discovery
	cancel context.CancelFunc
	done   chan struct{}
}

// NewDiscovery makes the discovery of transcripts for the actors.
func NewDiscovery(set DiscoverySettings, actors *Actors) *Discovery {
	if set.Logger == nil {
		set.Logger = slog.New(slog.DiscardHandler)
	}
	if set.Now == nil {
		set.Now = time.Now
	}
	if set.Window <= 0 {
		set.Window = time.Hour
	}
	if set.RescanInterval <= 0 {
		set.RescanInterval = 30 * time.Second
	}
	if set.Ignored == nil {
		set.Ignored = func(string) bool { return false }
	}
	return &Discovery{set: set, actors: actors}
}

// Start watches the folders in the background until Shutdown. Call it
// after the actors started.
func (d *Discovery) Start(context.Context) error {
	d.d = newDiscovery(d.set, d.actors.sess)
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel, d.done = cancel, make(chan struct{})
	go func() {
		defer close(d.done)
		d.d.run(ctx)
	}()
	return nil
}

// Shutdown stops watching.
func (d *Discovery) Shutdown(ctx context.Context) error {
	if d.cancel == nil {
		return nil
	}
	d.cancel()
	select {
	case <-d.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("discovery shutdown: %w", ctx.Err())
	}
}

// RescanNow looks for new transcripts at once, and waits for it (not once
// discovery stopped).
func (d *Discovery) RescanNow(ctx context.Context) {
	if d.d == nil {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-d.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	d.d.rescanNow(ctx)
}

// maxCountedSpans bounds the spool scan behind PendingSpans.
const maxCountedSpans = 200000

// ExportState says, for each session asked about, whether the daemon knows
// it, how far it read its files, and how many of its spans wait in the
// spool or were dead-lettered.
func (c *Actors) ExportState(q control.SessionsExportedArgs) control.SessionsExported {
	pending, dead, counted := c.spansByConversation()
	out := control.SessionsExported{Sessions: make([]control.SessionExportState, 0, len(q.Sessions))}
	_ = c.store.View(func(t *spool.Tx) error {
		for _, s := range q.Sessions {
			st := control.SessionExportState{Agent: s.Agent, Session: s.Session, PendingSpans: -1}
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
func (c *Actors) spansByConversation() (pending, dead map[string]int64, counted bool) {
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
	st, err := c.store.Stats()
	if err == nil && st.Depth <= maxCountedSpans {
		counted = true
		items, _ := c.store.Peek(maxCountedSpans, 1<<40)
		for _, it := range items {
			pending[conv(it.Span)]++
		}
	}
	dls, _ := c.store.DeadLetters(10000)
	for _, dl := range dls {
		if len(dl.Span) > 0 {
			dead[conv(dl.Span)]++
		}
	}
	return pending, dead, counted
}
