// Package ingest is the daemon's front door: the Unix socket server (peer
// check, framing, a byte budget across connections), durable storage of hook
// events with group commit (acked only after the bbolt commit), the drain of
// the hooks' inbox journal, and the routing of stored events to their
// sessions. Requests other than hook events go to the daemon's control.
package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weave-agentd/weave-agentd/daemon/status"
	"github.com/weave-agentd/weave-agentd/hooks"
	"github.com/weave-agentd/weave-agentd/redact"
	"github.com/weave-agentd/weave-agentd/spool"
)

// Settings are what the ingest component needs.
type Settings struct {
	Logger *slog.Logger
	Now    func() time.Time
	Paths  hooks.Paths // the socket and the inbox journal
	// HookAgents maps the name each agent's hook client sends
	// (hooks.AgentClaude) to the agent's name (genai.AgentClaudeCode).
	// Hook events of any other agent are refused.
	HookAgents    map[string]string
	InboxInterval time.Duration // inbox re-scan while running
	// Deliver routes a stored event (spool sequence seq) to its session,
	// with its payload decoded once (hook). The event comes without its
	// payload: the session reads it from the spool when it applies it.
	Deliver func(seq uint64, ev *hooks.Event, hook *hooks.Common)
	// Control answers every request that is not a hook event (status,
	// flush, the control calls).
	Control func(*hooks.Request) *hooks.Response
	// Warning is what a hook shows the user with its answer ("" for none).
	Warning func() string
}

// Ingest stores hook events durably (acked only after the bbolt commit),
// dropping ids seen before, and routes them to the session actors. Create
// with New, then Start and Shutdown.
type Ingest struct {
	*eventFilter
	store  *spool.Store
	health *status.Health
	server *server

	drainMu sync.Mutex
	inbox   status.Health // the latest drain error (a journal that is not a regular file of ours), for status

	mu         sync.Mutex
	waiting    []*commitReq
	committing bool

	cancel context.CancelFunc
	done   chan struct{} // closed when the inbox loop and the server returned
}

// eventFilter validates, filters and redacts events before they are stored.
// It holds no spool on purpose: prepare runs inside write transactions, and
// whatever it decides is written by the caller in the caller's transaction
// (a second write transaction opened there would wait for the first forever).
type eventFilter struct {
	set     Settings
	log     *slog.Logger
	red     *redact.Redactor
	exclude *Exclusions
}

// New makes the ingest component: it takes the socket in Start. Writes to
// the spool that fail are recorded in health.
func New(set Settings, store *spool.Store, red *redact.Redactor, exclude *Exclusions, health *status.Health) *Ingest {
	if set.Logger == nil {
		set.Logger = slog.New(slog.DiscardHandler)
	}
	if set.Now == nil {
		set.Now = time.Now
	}
	if set.InboxInterval <= 0 {
		set.InboxInterval = 2 * time.Second
	}
	return &Ingest{eventFilter: &eventFilter{set: set, log: set.Logger, red: red, exclude: exclude}, store: store, health: health}
}

// Start takes the socket (a live one is refused, a stale one replaced),
// drains the inbox, then serves the socket and re-drains the inbox every
// InboxInterval until Shutdown. Call it after the sessions started: events
// drained go straight to them.
func (in *Ingest) Start(context.Context) error {
	srv, err := listen(in.set.Paths.Socket, in.log)
	if err != nil {
		return err
	}
	srv.onBad = func() {
		if err := in.store.Batch(func(t *spool.Tx) error { return t.Add(spool.CounterBadFrames, 1) }); err != nil {
			in.log.Warn("could not count a malformed socket frame", "err", err)
		}
	}
	in.server = srv
	if err := in.DrainInbox(); err != nil {
		in.log.Warn("inbox drain failed; will retry", "err", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	in.cancel, in.done = cancel, make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { in.runInbox(ctx) })
	wg.Go(func() { srv.serve(in.handle) })
	go func() { wg.Wait(); close(in.done) }()
	return nil
}

// Shutdown stops accepting connections and the inbox loop, and waits for
// the requests being handled (their events are committed or refused).
func (in *Ingest) Shutdown(ctx context.Context) error {
	if in.server == nil {
		return nil
	}
	in.server.close()
	in.cancel()
	select {
	case <-in.done:
	case <-ctx.Done():
		return fmt.Errorf("ingest shutdown: %w", ctx.Err())
	}
	in.server.wait()
	return nil
}

// InboxError is the latest failure to drain the inbox journal (a journal
// that is not a regular file of ours), and since when, or "".
func (in *Ingest) InboxError() (string, time.Time) { return in.inbox.State() }

// handle answers one request: hook events here, the rest by Control.
func (in *Ingest) handle(req *hooks.Request) *hooks.Response {
	if req.Op != hooks.OpEvent {
		return in.set.Control(req)
	}
	if req.Event == nil {
		// Counted as a malformed event, like one without an id.
		if err := in.Accept(&hooks.Event{}); err != nil {
			in.log.Error("counting a malformed hook event", "err", err)
		}
		return &hooks.Response{Error: "event request without an event"}
	}
	if err := in.Accept(req.Event); err != nil {
		in.log.Error("storing a hook event", "err", err)
		return &hooks.Response{Error: "store: " + err.Error()}
	}
	return &hooks.Response{OK: true, Warning: in.set.Warning()}
}

// Accept stores one event from a live hook. It returns after the commit.
// Concurrent hooks are group-committed: one transaction (one fsync) holds
// every event that arrived while the previous commit was running, and a lone
// event waits for no timer. A malformed event is only counted, in the same
// group commit. Accept consumes ev: its payload is redacted and moved into
// the stored record (ev.Payload is nil after it).
func (in *Ingest) Accept(ev *hooks.Event) error {
	rec, hook, v := in.prepare(ev)
	if v == verdictExcluded {
		return nil
	}
	req := &commitReq{id: ev.ID, rec: rec, ev: ev, hook: hook, bad: v == verdictMalformed, done: make(chan error, 1)}
	in.mu.Lock()
	in.waiting = append(in.waiting, req)
	leader := !in.committing
	if leader {
		in.committing = true
	}
	in.mu.Unlock()
	if leader {
		in.commitLoop()
	}
	return <-req.done
}

type commitReq struct {
	id   string
	rec  []byte
	ev   *hooks.Event
	hook *hooks.Common // the payload, decoded once
	bad  bool          // malformed: only counted
	seq  uint64
	new  bool
	done chan error
}

// commitLoop commits queued events until none are left; only one goroutine
// (the leader) runs it at a time.
func (in *Ingest) commitLoop() {
	for {
		in.mu.Lock()
		batch := in.waiting
		in.waiting = nil
		if len(batch) == 0 {
			in.committing = false
			in.mu.Unlock()
			return
		}
		in.mu.Unlock()
		err := in.store.Update(func(t *spool.Tx) error {
			for _, r := range batch {
				if r.bad {
					if err := t.Add(spool.CounterBadEvents, 1); err != nil {
						return err
					}
					continue
				}
				var err error
				r.seq, r.new, err = t.PutEvent(r.id, r.rec, in.set.Now())
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			in.health.Failed(err, in.set.Now())
			in.log.Error("could not store hook events; the hooks keep them in their inbox journal if they can", "events", len(batch), "err", err)
		} else {
			in.health.OK()
		}
		for _, r := range batch {
			if err == nil && r.new {
				in.set.Deliver(r.seq, r.ev, r.hook)
			}
			r.done <- err
		}
	}
}

// verdict is what prepare decided about an event.
type verdict int

const (
	verdictStore     verdict = iota // store the record
	verdictMalformed                // count it as a bad event, store nothing
	verdictExcluded                 // the user keeps this project out: drop it silently
)

// prepare validates, filters and redacts an event and encodes the record to
// store. It writes nothing (see eventFilter): the caller stores the record
// or counts the malformed event in its own transaction. The payload is
// decoded here, once (hook): the agent and session when the hook client did
// not name them, the folders for the exclusions, and the transcript path
// for the session's actor all come from it; the stored record keeps the
// payload's bytes (redacted).
func (f *eventFilter) prepare(ev *hooks.Event) ([]byte, *hooks.Common, verdict) {
	if ev.ID == "" || len(ev.ID) > hooks.MaxEventID || ev.Invalid != "" || len(ev.Payload) == 0 {
		f.log.Warn("skipped a malformed hook event", "agent", ev.Agent, "bytes", len(ev.Invalid)) // never its text: it may hold a secret
		return nil, nil, verdictMalformed
	}
	agent, hook := hooks.Detect(ev.Payload, ev.Agent)
	if ev.Agent == "" || ev.Session == "" {
		ev.Agent, ev.Session, ev.Name = agent, hook.Session(), hook.HookEventName
	}
	if _, known := f.set.HookAgents[ev.Agent]; ev.Agent != "" && !known {
		f.log.Warn("skipped a hook event from an agent this daemon does not know; upgrade weave-agentd if the hook is newer", "agent", status.Truncate(ev.Agent, 40))
		return nil, nil, verdictMalformed
	}
	if ev.Session == "" {
		f.log.Warn("skipped a hook event with no session id", "agent", ev.Agent, "event", ev.Name)
		return nil, nil, verdictMalformed
	}
	if len(ev.Session) > hooks.MaxSessionID {
		f.log.Warn("skipped a hook event whose session id is too long", "agent", ev.Agent, "event", status.Truncate(ev.Name, 40), "bytes", len(ev.Session))
		return nil, nil, verdictMalformed
	}
	// Each root is checked against the exclusions, folder by folder up to
	// the root: an event naming more than hooks.MaxWorkspaceRoots (its
	// decoder keeps one more) is malformed, not cut, as a root left
	// unchecked could be excluded.
	if len(hook.WorkspaceRoots) > hooks.MaxWorkspaceRoots {
		f.log.Warn("skipped a hook event naming too many workspace folders", "agent", ev.Agent, "max", hooks.MaxWorkspaceRoots)
		return nil, nil, verdictMalformed
	}
	if f.excluded(&hook) {
		return nil, nil, verdictExcluded
	}
	rec, err := encodeRecord(ev, f.red.RedactJSON(ev.Payload))
	if err != nil {
		return nil, nil, verdictMalformed
	}
	return rec, &hook, verdictStore
}

// encodeRecord encodes ev with payload as the stored record (hooks.Event's
// JSON, hooks.MarshalEvent: the payload copied once), and leaves ev without
// a payload: the record holds it now, and the session's actor reads it back
// from the spool.
func encodeRecord(ev *hooks.Event, payload []byte) ([]byte, error) {
	ev.Payload = nil
	if !json.Valid(payload) {
		return nil, errors.New("the payload is not JSON")
	}
	stored := *ev
	stored.Payload = payload
	return hooks.MarshalEvent(&stored)
}

// excluded applies the config's exclude globs and .weave-agentd-ignore files
// to the event's working directory, before anything is spooled.
func (f *eventFilter) excluded(hook *hooks.Common) bool {
	dirs := append([]string{hook.Cwd}, hook.WorkspaceRoots...)
	for _, d := range dirs {
		if d != "" && f.exclude.Ignored(d) {
			return true
		}
	}
	return false
}

// Exclusions tell the projects the user keeps out of the traces: a folder
// matching one of the config's exclude globs, or holding a
// .weave-agentd-ignore file, and everything under it. Hook events and
// transcripts of such a project are never spooled.
type Exclusions struct {
	globs  []string
	cache  sync.Map // dir -> bool
	cached atomic.Int64
}

// maxCachedDirs bounds the folders whose verdict is remembered; past it
// the cache starts afresh.
const maxCachedDirs = 4096

// NewExclusions makes the exclusions of the config's exclude globs.
func NewExclusions(globs []string) *Exclusions { return &Exclusions{globs: globs} }

// Ignored reports whether dir is in a project kept out.
func (e *Exclusions) Ignored(dir string) bool {
	if v, ok := e.cache.Load(dir); ok {
		return v.(bool)
	}
	ignored := false
	for d := filepath.Clean(dir); !ignored; d = filepath.Dir(d) {
		for _, g := range e.globs {
			if ok, _ := filepath.Match(filepath.Clean(g), d); ok {
				ignored = true
			}
		}
		if _, err := os.Stat(filepath.Join(d, ".weave-agentd-ignore")); err == nil {
			ignored = true
		}
		if d == filepath.Dir(d) {
			break
		}
	}
	if e.cached.Add(1) > maxCachedDirs {
		e.cache.Clear()
		e.cached.Store(1)
	}
	e.cache.Store(dir, ignored)
	return ignored
}

// DrainInbox moves events the hooks journaled while we were away into the
// spool, in batches of one transaction each. Malformed lines and events are
// counted in the transaction of the batch they came with.
func (in *Ingest) DrainInbox() error {
	in.drainMu.Lock()
	defer in.drainMu.Unlock()
	badLines := int64(0) // malformed lines read since the last commit
	var storeErr error   // a failed commit (storage health reports it), not the journal's fault
	n, err := hooks.DrainInbox(in.set.Paths.Inbox, func(evs []*hooks.Event) error {
		type stored struct {
			seq  uint64
			ev   *hooks.Event
			hook *hooks.Common
		}
		type prepared struct {
			rec  []byte
			hook *hooks.Common
			v    verdict
		}
		// Decided before the transaction: nothing in there but writes.
		preps := make([]prepared, len(evs))
		for i, ev := range evs {
			preps[i].rec, preps[i].hook, preps[i].v = in.prepare(ev)
		}
		var routed []stored
		err := in.store.Update(func(t *spool.Tx) error {
			routed = routed[:0]
			bad := badLines
			for i, ev := range evs {
				switch preps[i].v {
				case verdictMalformed:
					bad++
					continue
				case verdictExcluded:
					continue
				}
				seq, isNew, err := t.PutEvent(ev.ID, preps[i].rec, in.set.Now())
				if err != nil {
					return err
				}
				if isNew {
					routed = append(routed, stored{seq, ev, preps[i].hook})
				}
			}
			return t.Add(spool.CounterBadEvents, bad)
		})
		if err != nil {
			in.health.Failed(err, in.set.Now())
			storeErr = err
			return err
		}
		in.health.OK()
		badLines = 0
		for _, r := range routed {
			in.set.Deliver(r.seq, r.ev, r.hook)
		}
		return nil
	}, func(line []byte, err error) {
		in.log.Warn("skipped a malformed inbox line", "err", err, "bytes", len(line)) // never its text: it may hold a secret
		badLines++
	})
	if n > 0 {
		in.log.Info("drained the inbox", "events", n)
	}
	if err != nil && err != storeErr {
		in.inbox.Failed(err, in.set.Now())
	} else {
		in.inbox.OK()
	}
	return err
}

// seenFor is how long event ids are remembered for deduplication: far
// longer than any inbox copy of an event can be delayed.
const seenFor = 7 * 24 * time.Hour

func (in *Ingest) runInbox(ctx context.Context) {
	t := time.NewTicker(in.set.InboxInterval)
	defer t.Stop()
	prune := time.NewTicker(time.Hour)
	defer prune.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			prev, _ := in.inbox.State()
			if err := in.DrainInbox(); err != nil && err.Error() != prev {
				in.log.Warn("inbox drain failed", "err", err) // once per cause, not at every tick
			}
		case <-prune.C:
			if _, err := in.store.PruneSeen(in.set.Now().Add(-seenFor)); err != nil {
				in.log.Warn("pruning remembered event ids", "err", err)
			}
		}
	}
}
