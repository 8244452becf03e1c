package daemon

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/weave-agentd/weave-agentd/hooks"
	"github.com/weave-agentd/weave-agentd/spool"
)

// ingest stores hook events durably (acked only after the bbolt commit),
// dropping ids seen before, and routes them to the session actors.
type ingest struct {
	set    Settings
	log    *slog.Logger
	store  *spool.Store
	red    *Redactor
	health *storageHealth
	sess   *sessions

	drainMu sync.Mutex
	ignore  sync.Map

	mu         sync.Mutex
	waiting    []*commitReq
	committing bool // cwd -> bool (project has .weave-agentd-ignore or matches exclude)
}

func newIngest(set Settings, store *spool.Store, red *Redactor, sess *sessions, health *storageHealth) *ingest {
	return &ingest{set: set, log: set.Logger, store: store, red: red, sess: sess, health: health}
}

// accept stores one event from a live hook. It returns after the commit.
// Concurrent hooks are group-committed: one transaction (one fsync) holds
// every event that arrived while the previous commit was running, and a lone
// event waits for no timer.
func (in *ingest) accept(ev *hooks.Event) error {
	rec, ok := in.prepare(ev)
	if !ok {
		return nil
	}
	req := &commitReq{id: ev.ID, rec: rec, ev: ev, done: make(chan error, 1)}
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
	seq  uint64
	new  bool
	done chan error
}

// commitLoop commits queued events until none are left; only one goroutine
// (the leader) runs it at a time.
func (in *ingest) commitLoop() {
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
				var err error
				r.seq, r.new, err = t.PutEvent(r.id, r.rec, in.set.Now())
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			in.health.failed(err, in.set.Now())
			in.log.Error("could not store hook events; the hooks keep them in their inbox journal if they can", "events", len(batch), "err", err)
		} else {
			in.health.ok()
		}
		for _, r := range batch {
			if err == nil && r.new {
				in.sess.deliver(r.seq, r.ev)
			}
			r.done <- err
		}
	}
}

// prepare validates, filters and redacts an event and encodes the record to
// store. ok is false when the event is to be dropped (counted).
func (in *ingest) prepare(ev *hooks.Event) ([]byte, bool) {
	if ev.ID == "" || ev.Invalid != "" || len(ev.Payload) == 0 {
		in.log.Warn("skipped a malformed hook event", "agent", ev.Agent, "bytes", len(ev.Invalid)) // never its text: it may hold a secret
		_ = in.store.Add(spool.CounterBadEvents, 1)
		return nil, false
	}
	if ev.Agent == "" || ev.Session == "" {
		agent, common := hooks.Detect(ev.Payload, ev.Agent)
		ev.Agent, ev.Session, ev.Name = agent, common.Session(), common.HookEventName
	}
	if ev.Session == "" {
		in.log.Warn("skipped a hook event with no session id", "agent", ev.Agent, "event", ev.Name)
		_ = in.store.Add(spool.CounterBadEvents, 1)
		return nil, false
	}
	if in.excluded(ev.Payload) {
		return nil, false
	}
	ev.Payload = in.red.RedactJSON(ev.Payload)
	rec, err := json.Marshal(ev)
	if err != nil {
		return nil, false
	}
	return rec, true
}

// excluded applies the config's exclude globs and .weave-agentd-ignore files
// to the event's working directory, before anything is spooled.
func (in *ingest) excluded(payload []byte) bool {
	var c struct {
		Cwd            string   `json:"cwd"`
		WorkspaceRoots []string `json:"workspace_roots"`
	}
	_ = json.Unmarshal(payload, &c)
	dirs := append([]string{c.Cwd}, c.WorkspaceRoots...)
	for _, d := range dirs {
		if d != "" && in.ignoredDir(d) {
			return true
		}
	}
	return false
}

func (in *ingest) ignoredDir(dir string) bool {
	if v, ok := in.ignore.Load(dir); ok {
		return v.(bool)
	}
	ignored := false
	for d := filepath.Clean(dir); !ignored; d = filepath.Dir(d) {
		for _, g := range in.set.Config.Exclude {
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
	in.ignore.Store(dir, ignored)
	return ignored
}

// drainInbox moves events the hooks journaled while we were away into the
// spool, in batches of one transaction each.
func (in *ingest) drainInbox() error {
	in.drainMu.Lock()
	defer in.drainMu.Unlock()
	n, err := hooks.DrainInbox(in.set.Paths.Inbox, func(evs []*hooks.Event) error {
		type stored struct {
			seq uint64
			ev  *hooks.Event
		}
		var routed []stored
		err := in.store.Update(func(t *spool.Tx) error {
			routed = routed[:0]
			for _, ev := range evs {
				rec, ok := in.prepare(ev)
				if !ok {
					continue
				}
				seq, isNew, err := t.PutEvent(ev.ID, rec, in.set.Now())
				if err != nil {
					return err
				}
				if isNew {
					routed = append(routed, stored{seq, ev})
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, r := range routed {
			in.sess.deliver(r.seq, r.ev)
		}
		return nil
	}, func(line []byte, err error) {
		in.log.Warn("skipped a malformed inbox line", "err", err, "bytes", len(line)) // never its text: it may hold a secret
		_ = in.store.Add(spool.CounterBadEvents, 1)
	})
	if n > 0 {
		in.log.Info("drained the inbox", "events", n)
	}
	return err
}

// seenFor is how long event ids are remembered for deduplication: far
// longer than any inbox copy of an event can be delayed.
const seenFor = 7 * 24 * time.Hour

func (in *ingest) runInbox(ctx context.Context) {
	t := time.NewTicker(in.set.InboxInterval)
	defer t.Stop()
	prune := time.NewTicker(time.Hour)
	defer prune.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := in.drainInbox(); err != nil {
				in.log.Warn("inbox drain failed", "err", err)
			}
		case <-prune.C:
			if _, err := in.store.PruneSeen(in.set.Now().Add(-seenFor)); err != nil {
				in.log.Warn("pruning remembered event ids", "err", err)
			}
		}
	}
}
