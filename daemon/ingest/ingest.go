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
	"github.com/weave-agentd/weave-agentd/redact"
	"github.com/weave-agentd/weave-agentd/spool"
)

// ingest stores hook events durably (acked only after the bbolt commit),
// dropping ids seen before, and routes them to the session actors.
type ingest struct {
	*eventFilter
	store  *spool.Store
	health *storageHealth
	sess   *sessions

	drainMu sync.Mutex
	inbox   storageHealth // the latest drain error (a journal that is not a regular file of ours), for status

	mu         sync.Mutex
	waiting    []*commitReq
	committing bool
}

// eventFilter validates, filters and redacts events before they are stored.
// It holds no spool on purpose: prepare runs inside write transactions, and
// whatever it decides is written by the caller in the caller's transaction
// (a second write transaction opened there would wait for the first forever).
type eventFilter struct {
	set    Settings
	log    *slog.Logger
	red    *redact.Redactor
	ignore sync.Map // cwd -> bool (project has .weave-agentd-ignore or matches exclude)
}

func newIngest(set Settings, store *spool.Store, red *redact.Redactor, sess *sessions, health *storageHealth) *ingest {
	return &ingest{eventFilter: &eventFilter{set: set, log: set.Logger, red: red}, store: store, sess: sess, health: health}
}

// accept stores one event from a live hook. It returns after the commit.
// Concurrent hooks are group-committed: one transaction (one fsync) holds
// every event that arrived while the previous commit was running, and a lone
// event waits for no timer. A malformed event is only counted, in the same
// group commit.
func (in *ingest) accept(ev *hooks.Event) error {
	rec, v := in.prepare(ev)
	if v == verdictExcluded {
		return nil
	}
	req := &commitReq{id: ev.ID, rec: rec, ev: ev, bad: v == verdictMalformed, done: make(chan error, 1)}
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
	bad  bool // malformed: only counted
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

// verdict is what prepare decided about an event.
type verdict int

const (
	verdictStore     verdict = iota // store the record
	verdictMalformed                // count it as a bad event, store nothing
	verdictExcluded                 // the user keeps this project out: drop it silently
)

// prepare validates, filters and redacts an event and encodes the record to
// store. It writes nothing (see eventFilter): the caller stores the record
// or counts the malformed event in its own transaction.
func (f *eventFilter) prepare(ev *hooks.Event) ([]byte, verdict) {
	if ev.ID == "" || ev.Invalid != "" || len(ev.Payload) == 0 {
		f.log.Warn("skipped a malformed hook event", "agent", ev.Agent, "bytes", len(ev.Invalid)) // never its text: it may hold a secret
		return nil, verdictMalformed
	}
	if ev.Agent == "" || ev.Session == "" {
		agent, common := hooks.Detect(ev.Payload, ev.Agent)
		ev.Agent, ev.Session, ev.Name = agent, common.Session(), common.HookEventName
	}
	if _, known := f.set.HookAgents[ev.Agent]; ev.Agent != "" && !known {
		f.log.Warn("skipped a hook event from an agent this daemon does not know; upgrade weave-agentd if the hook is newer", "agent", truncate(ev.Agent, 40))
		return nil, verdictMalformed
	}
	if ev.Session == "" {
		f.log.Warn("skipped a hook event with no session id", "agent", ev.Agent, "event", ev.Name)
		return nil, verdictMalformed
	}
	if f.excluded(ev.Payload) {
		return nil, verdictExcluded
	}
	ev.Payload = f.red.RedactJSON(ev.Payload)
	rec, err := json.Marshal(ev)
	if err != nil {
		return nil, verdictMalformed
	}
	return rec, verdictStore
}

// excluded applies the config's exclude globs and .weave-agentd-ignore files
// to the event's working directory, before anything is spooled.
func (f *eventFilter) excluded(payload []byte) bool {
	var c struct {
		Cwd            string   `json:"cwd"`
		WorkspaceRoots []string `json:"workspace_roots"`
	}
	_ = json.Unmarshal(payload, &c)
	dirs := append([]string{c.Cwd}, c.WorkspaceRoots...)
	for _, d := range dirs {
		if d != "" && f.ignoredDir(d) {
			return true
		}
	}
	return false
}

func (f *eventFilter) ignoredDir(dir string) bool {
	if v, ok := f.ignore.Load(dir); ok {
		return v.(bool)
	}
	ignored := false
	for d := filepath.Clean(dir); !ignored; d = filepath.Dir(d) {
		for _, g := range f.set.Config.Exclude {
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
	f.ignore.Store(dir, ignored)
	return ignored
}

// drainInbox moves events the hooks journaled while we were away into the
// spool, in batches of one transaction each. Malformed lines and events are
// counted in the transaction of the batch they came with.
func (in *ingest) drainInbox() error {
	in.drainMu.Lock()
	defer in.drainMu.Unlock()
	badLines := int64(0) // malformed lines read since the last commit
	var storeErr error   // a failed commit (storage health reports it), not the journal's fault
	n, err := hooks.DrainInbox(in.set.Paths.Inbox, func(evs []*hooks.Event) error {
		type stored struct {
			seq uint64
			ev  *hooks.Event
		}
		type prepared struct {
			rec []byte
			v   verdict
		}
		// Decided before the transaction: nothing in there but writes.
		preps := make([]prepared, len(evs))
		for i, ev := range evs {
			preps[i].rec, preps[i].v = in.prepare(ev)
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
					routed = append(routed, stored{seq, ev})
				}
			}
			return t.Add(spool.CounterBadEvents, bad)
		})
		if err != nil {
			in.health.failed(err, in.set.Now())
			storeErr = err
			return err
		}
		in.health.ok()
		badLines = 0
		for _, r := range routed {
			in.sess.deliver(r.seq, r.ev)
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
		in.inbox.failed(err, in.set.Now())
	} else {
		in.inbox.ok()
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
			prev, _ := in.inbox.state()
			if err := in.drainInbox(); err != nil && err.Error() != prev {
				in.log.Warn("inbox drain failed", "err", err) // once per cause, not at every tick
			}
		case <-prune.C:
			if _, err := in.store.PruneSeen(in.set.Now().Add(-seenFor)); err != nil {
				in.log.Warn("pruning remembered event ids", "err", err)
			}
			if _, err := in.sess.prune(in.set.Now()); err != nil {
				in.log.Warn("pruning finished sessions", "err", err)
			}
		}
	}
}
