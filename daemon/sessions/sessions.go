package sessions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/weave-agentd/weave-agentd/daemon/status"
	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/hooks"
	"github.com/weave-agentd/weave-agentd/redact"
	"github.com/weave-agentd/weave-agentd/spool"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// stepBudget bounds the transcript bytes one actor step reads before it
// commits, so memory stays flat and progress is saved on huge files.
const stepBudget = 8 << 20

// backfillBacklog is how many bytes of spans may wait for export before a
// backfill reads on: it bounds the spool (and its mapped pages) when spans
// are built faster than the target takes them.
const backfillBacklog = 8 << 20

// idleEvict is how long an idle actor stays in memory.
const idleEvict = 10 * time.Minute

// sessionRecord is what the spool keeps per session.
type sessionRecord struct {
	Agent      string    `json:"agent"`
	Session    string    `json:"session"`
	Transcript string    `json:"transcript,omitempty"`
	LastActive time.Time `json:"last_active"`
	State      []byte    `json:"state,omitempty"`
}

// sessions owns one actor per (agent, session): a goroutine that applies that
// session's hook events and transcript lines in order and commits the spans,
// offsets and builder state together.
type sessions struct {
	set      Settings
	log      *slog.Logger
	store    *spool.Store
	red      *redact.Redactor
	health   *status.Health
	res      *resources
	exported func() // wakes the forwarder
	backlog  int64  // backfillBacklog (tests lower it)

	watcher *fsnotify.Watcher

	mu      sync.Mutex
	actors  map[string]*actor
	watched map[string]int // dir -> number of files watched in it
	skips   skippedFiles   // transcript paths not read (status)
	stopped bool
	wg      sync.WaitGroup
	ctx     context.Context
	cancel  context.CancelFunc
}

func newSessions(set Settings, store *spool.Store, red *redact.Redactor, res *resources, health *status.Health, wake func()) *sessions {
	ctx, cancel := context.WithCancel(context.Background())
	s := &sessions{set: set, log: set.Logger, store: store, red: red, res: res, health: health, exported: wake,
		actors: map[string]*actor{}, watched: map[string]int{}, ctx: ctx, cancel: cancel, backlog: backfillBacklog}
	if w, err := fsnotify.NewWatcher(); err == nil {
		s.watcher = w
		s.wg.Add(1)
		go s.watch()
	} else {
		s.log.Warn("file watching unavailable; polling every tick instead", "err", err)
	}
	s.wg.Go(s.pruneHourly)
	return s
}

// pruneHourly forgets the state of finished sessions every hour (see prune).
func (s *sessions) pruneHourly() {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			if _, err := s.prune(s.set.Now()); err != nil {
				s.log.Warn("pruning finished sessions", "err", err)
			}
		}
	}
}

func sessionKey(agent, session string) string { return agent + "\x00" + session }

// deliver routes a committed event (spool sequence seq) to its actor, with
// its payload decoded once on its way (hook). The actor's queue keeps no
// payload (ev's is not used): the actor reads it back from the spool when
// it applies the event (see queuedEvent). Ingest let only events of the
// agents in Settings.HookAgents in.
func (s *sessions) deliver(seq uint64, ev *hooks.Event, hook *hooks.Common) {
	agent := s.set.HookAgents[ev.Agent]
	q := queuedEvent{seq: seq, transcript: hook.TranscriptPath, ev: transcript.Event{
		ID: ev.ID, Agent: agent, Name: ev.Name, ReceivedAt: time.Unix(0, ev.RecvNS),
	}}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Under s.mu, so the actor cannot be evicted between lookup and enqueue.
	if a := s.actorLocked(agent, ev.Session, hook.TranscriptPath); a != nil {
		a.enqueue(q)
	}
}

// actor returns the live actor for a session, starting (and restoring) it.
func (s *sessions) actor(agent, session, transcriptPath string) *actor {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.actorLocked(agent, session, transcriptPath)
}

func (s *sessions) actorLocked(agent, session, transcriptPath string) *actor {
	// An id read from a transcript (a Gemini CLI header, a Codex CLI
	// session_meta) is as unbounded as a hook's, and a key of the spool.
	if s.stopped || len(session) > hooks.MaxSessionID {
		return nil
	}
	key := sessionKey(agent, session)
	transcriptPath = s.ownTranscript(agent, session, transcriptPath)
	if a, ok := s.actors[key]; ok {
		if transcriptPath != "" {
			a.mu.Lock()
			a.found = transcriptPath // taken when it has none (see step)
			a.mu.Unlock()
		}
		return a
	}
	factory := s.set.Builders[agent]
	if factory == nil {
		s.log.Warn("no span builder for agent; events are stored but not traced", "agent", agent)
		factory = func(string, string, string) transcript.Builder { return nopBuilder{} }
	}
	a := &actor{s: s, key: key, agent: agent, session: session, wake: make(chan struct{}, 1),
		tailers: map[string]*tailer{}, pending: map[uint64]bool{}, quit: make(chan struct{}), log: s.log.With("agent", agent, "session", session)}
	var rec sessionRecord
	_ = s.store.View(func(t *spool.Tx) error {
		if b := t.Session(key); b != nil {
			_ = json.Unmarshal(b, &rec)
		}
		return nil
	})
	if transcriptPath == "" {
		transcriptPath = s.ownTranscript(agent, session, rec.Transcript)
	}
	a.transcript = transcriptPath
	a.b = factory(agent, session, transcriptPath)
	if len(rec.State) > 0 {
		if err := a.b.RestoreState(rec.State); err != nil {
			a.log.Warn("could not restore session state; continuing from the saved offsets", "err", err)
		}
	}
	a.counted = a.b.Stats() // counted when they were skipped
	s.actors[key] = a
	s.wg.Add(1)
	go a.run(s.ctx)
	return a
}

// ownTranscript is path when it may be the session's own transcript, else
// "". An agent whose file names hold their session (transcript.SessionNamer)
// tells another session's file: a Codex CLI subagent's hooks carry the
// spawning session's id with the subagent's rollout, and taking that file
// for the spawning session would hide its own rollout (found by its hooks or
// by discovery) and read the subagent's twice. Any other path is taken, as
// an agent that cannot tell has always been trusted with it.
func (s *sessions) ownTranscript(agent, session, path string) string {
	if path == "" {
		return ""
	}
	a, _ := transcript.AgentByName(agent)
	if n, ok := a.(transcript.SessionNamer); ok {
		if id := n.NamedSession(path); id != "" && id != session {
			s.log.Debug("not the session's transcript: another session's file", "agent", agent, "session", session, "path", path, "file_session", id)
			return ""
		}
	}
	return path
}

// restore re-creates actors for events still pending in the spool (stored
// but not yet turned into spans when the daemon stopped).
func (s *sessions) restore(ctx context.Context) error {
	// Sessions active in the last day resume tailing at once: a turn may have
	// been open when the daemon stopped.
	cutoff := s.set.Now().Add(-24 * time.Hour)
	var recent []sessionRecord
	_ = s.store.View(func(t *spool.Tx) error {
		t.Sessions(func(_ string, v []byte) {
			var rec sessionRecord
			if json.Unmarshal(v, &rec) == nil && rec.LastActive.After(cutoff) {
				recent = append(recent, rec)
			}
		})
		return nil
	})
	for _, rec := range recent {
		s.actor(rec.Agent, rec.Session, rec.Transcript)
	}
	// What routes each event, not its payload: the spool may hold many
	// events of up to hooks.MaxFrame (the actors read them back one by one).
	type pending struct {
		seq  uint64
		ev   hooks.Event
		hook hooks.Common
	}
	var pend []pending
	var bad []uint64
	if err := s.store.View(func(t *spool.Tx) error {
		t.Events(func(seq uint64, rec []byte) {
			p := pending{seq: seq}
			// An overlong session id (stored before ingest refused them)
			// would fail every commit of its session.
			if err := json.Unmarshal(rec, &p.ev); err != nil || len(p.ev.Session) > hooks.MaxSessionID {
				bad = append(bad, seq)
				return
			}
			_ = json.Unmarshal(p.ev.Payload, &p.hook)
			p.ev.Payload = nil
			pend = append(pend, p)
		})
		return nil
	}); err != nil {
		return err
	}
	for i := range pend {
		s.deliver(pend[i].seq, &pend[i].ev, &pend[i].hook)
	}
	if len(bad) == 0 {
		return nil
	}
	err := s.store.Update(func(t *spool.Tx) error {
		for _, seq := range bad {
			if err := t.DeleteEvent(seq); err != nil {
				return err
			}
		}
		return t.Add(spool.CounterBadEvents, int64(len(bad)))
	})
	if err != nil {
		return fmt.Errorf("dropping %d undecodable stored events: %w", len(bad), err)
	}
	return nil
}

// sessionRetention is how long the state of a session no actor holds is
// kept after its last commit: beyond it a resumed session starts afresh from
// its saved offsets (its turns are long closed). Claude Code itself deletes
// transcripts after 30 days by default.
const sessionRetention = 30 * 24 * time.Hour

// goneRetention is how long the state of a session whose transcript no
// longer exists is kept after its last commit (a transcript path a hook
// named may only appear later).
const goneRetention = 24 * time.Hour

// prune forgets the saved state of sessions no actor holds whose last commit
// is older than sessionRetention, or than goneRetention when their transcript
// is gone (with that file's offset), so the sessions bucket holds recent
// sessions only instead of every session ever seen.
func (s *sessions) prune(now time.Time) (int, error) {
	type candidate struct {
		key        string
		transcript string
		age        time.Duration
	}
	var cands []candidate
	if err := s.store.View(func(t *spool.Tx) error {
		t.Sessions(func(key string, v []byte) {
			var rec sessionRecord
			if json.Unmarshal(v, &rec) != nil {
				cands = append(cands, candidate{key: key, age: sessionRetention + 1}) // unreadable: of no use
				return
			}
			cands = append(cands, candidate{key: key, transcript: rec.Transcript, age: now.Sub(rec.LastActive)})
		})
		return nil
	}); err != nil {
		return 0, err
	}
	var drop []candidate
	for _, c := range cands {
		gone := false
		if c.transcript != "" && c.age > goneRetention {
			_, err := os.Stat(c.transcript)
			gone = errors.Is(err, os.ErrNotExist)
		}
		if !gone {
			c.transcript = "" // its offset stays: the file may be read again
		}
		if c.age > sessionRetention || gone {
			drop = append(drop, c)
		}
	}
	if len(drop) == 0 {
		return 0, nil
	}
	// Under s.mu no actor starts (restoring a record) or is evicted
	// meanwhile; a live one rewrites its record at its next commit anyway.
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	err := s.store.Update(func(t *spool.Tx) error {
		n = 0
		for _, c := range drop {
			if _, live := s.actors[c.key]; live {
				continue
			}
			if err := t.DeleteSession(c.key); err != nil {
				return err
			}
			if c.transcript != "" {
				if err := t.DeleteOffset(c.transcript); err != nil {
					return err
				}
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("pruning finished sessions: %w", err)
	}
	return n, nil
}

// flush makes every live actor read its files to EOF and commit, and waits.
// It fails when an actor could not commit (a full disk): what it read is not
// stored, so it is not flushed either.
func (s *sessions) flush(ctx context.Context) error {
	s.mu.Lock()
	actors := make([]*actor, 0, len(s.actors))
	for _, a := range s.actors {
		actors = append(actors, a)
	}
	s.mu.Unlock()
	var errs []error
	for _, a := range actors {
		done := make(chan error, 1)
		a.requestFlush(done, false)
		select {
		case err := <-done:
			if err != nil {
				errs = append(errs, fmt.Errorf("session %s: %w", a.session, err))
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return errors.Join(errs...)
}

// stats reports live sessions and watched files for status.
func (s *sessions) stats() (active int, files []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.actors {
		active++
		a.mu.Lock()
		for p := range a.tailers {
			files = append(files, p)
		}
		a.mu.Unlock()
	}
	sort.Strings(files)
	return active, files
}

func (s *sessions) stop() {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	s.cancel()
	if s.watcher != nil {
		s.watcher.Close()
	}
	s.wg.Wait()
}

// releaseIfIdle asks an actor to leave memory once it holds no open turn and
// nothing queued (backfill touches thousands of sessions; memory must stay
// flat). Its state is committed; a later event or file change revives it.
func (s *sessions) releaseIfIdle(a *actor) {
	a.stopOnce.Do(func() { close(a.quit) })
}

// removeIfEmpty evicts a from the table unless work arrived for it; callers
// (the actor's own goroutine) return when it reports true.
func (s *sessions) removeIfEmpty(a *actor) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.queue) > 0 || len(a.flushes) > 0 || len(a.settles) > 0 {
		return false
	}
	a.dead = true
	if s.actors[a.key] == a {
		delete(s.actors, a.key)
	}
	for p := range a.tailers {
		s.unwatchLocked(p)
	}
	return true
}

// watchFile asks fsnotify for changes in the file's folder (watching the
// folder survives the file being created, replaced or rotated).
func (s *sessions) watchFile(path string) {
	if s.watcher == nil {
		return
	}
	dir := filepath.Dir(path)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.watched[dir] == 0 {
		if err := s.watcher.Add(dir); err != nil {
			s.log.Debug("cannot watch folder; relying on the periodic rescan", "dir", dir, "err", err)
			return
		}
	}
	s.watched[dir]++
}

func (s *sessions) unwatchLocked(path string) {
	if s.watcher == nil {
		return
	}
	dir := filepath.Dir(path)
	if s.watched[dir] == 0 {
		return
	}
	s.watched[dir]--
	if s.watched[dir] == 0 {
		delete(s.watched, dir)
		_ = s.watcher.Remove(dir)
	}
}

// watch wakes the actors whose files changed. Waking is cheap and coalesced
// (one pending wake per actor), which is the debounce.
func (s *sessions) watch() {
	defer s.wg.Done()
	for {
		select {
		case ev, ok := <-s.watcher.Events:
			if !ok {
				return
			}
			s.mu.Lock()
			for _, a := range s.actors {
				if a.owns(ev.Name) {
					a.poke()
				}
			}
			s.mu.Unlock()
		case err, ok := <-s.watcher.Errors:
			if !ok {
				return
			}
			s.log.Debug("file watcher", "err", err)
		}
	}
}

// queuedEvent is a stored hook event waiting for its actor. Its payload
// stays in the spool until the actor applies it (applyEvent): a session's
// queue grows while its actor is busy, and payloads go up to
// hooks.MaxFrame, so holding them would let memory grow with the queue.
type queuedEvent struct {
	seq        uint64
	transcript string           // the payload's transcript_path
	ev         transcript.Event // without its Payload
}

// actor is one session's ordered worker.
type actor struct {
	s          *sessions
	key        string
	agent      string
	session    string
	transcript string
	b          transcript.Builder
	log        *slog.Logger
	wake       chan struct{}

	mu      sync.Mutex
	queue   []queuedEvent
	pending map[uint64]bool // seqs queued or being applied, not yet committed
	flushes []chan error
	settles []chan error // flushes that also settle (backfill)
	tailers map[string]*tailer
	// found is the session's own transcript as discovery, a backfill or a
	// hook named it to the live actor; taken by step when it has none.
	found string

	// counted is the builder's Stats whose skipped and truncated lines are
	// already added to the spool's counters.
	counted transcript.Stats

	quit     chan struct{} // closed to evict the actor
	stopOnce sync.Once
	dead     bool // evicted: flush requests are answered at once
}

func (a *actor) enqueue(q queuedEvent) {
	a.mu.Lock()
	if a.pending[q.seq] {
		a.mu.Unlock()
		return // already queued (restore and live delivery can overlap)
	}
	a.pending[q.seq] = true
	a.queue = append(a.queue, q)
	a.mu.Unlock()
	a.poke()
}

// requestFlush asks the actor to read its files to EOF and commit; done
// (buffered) receives then the commit's error, nil when all is stored. With
// settle (a backfill), if none of the session's files changed for
// historicAge, what only time would finish (an idle turn) is finished at
// once too, so the actor can leave memory.
func (a *actor) requestFlush(done chan error, settle bool) {
	a.mu.Lock()
	if a.dead {
		a.mu.Unlock()
		done <- nil // everything it read is committed
		return
	}
	if settle {
		a.settles = append(a.settles, done)
	} else {
		a.flushes = append(a.flushes, done)
	}
	a.mu.Unlock()
	a.poke()
}

// historicAge is how long a session's files must have been left alone for a
// backfill to settle it: the builders' idle timeout.
const historicAge = 10 * time.Minute

// settle finishes a historical session (see requestFlush).
func (a *actor) settle() error {
	s, ok := a.b.(transcript.Settler)
	if !ok {
		return nil
	}
	cutoff := a.s.set.Now().Add(-historicAge)
	for _, p := range a.files() {
		if fi, err := os.Stat(p); err == nil && fi.ModTime().After(cutoff) {
			return nil // live: the timeouts will do it
		}
	}
	s.Settle()
	spans := a.b.Take()
	if len(spans) == 0 {
		return nil
	}
	return a.commit(nil, spans)
}

func (a *actor) poke() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

func (a *actor) owns(path string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.tailers[path]
	return ok
}

func (a *actor) run(ctx context.Context) {
	defer a.s.wg.Done()
	tick := time.NewTicker(a.s.set.TickInterval)
	defer tick.Stop()
	lastActive := a.s.set.Now()
	quit := a.quit
	for {
		select {
		case <-ctx.Done():
			return
		case <-quit:
			quit = nil // asked once; an open turn keeps the actor until idle
			if a.b.Idle() && a.s.removeIfEmpty(a) {
				return
			}
			continue
		case <-a.wake:
		case <-tick.C:
		}
		a.mu.Lock()
		flushes, settles := a.flushes, a.settles
		a.flushes, a.settles = nil, nil
		a.mu.Unlock()
		active, err := a.step(len(flushes)+len(settles) > 0, len(settles) > 0)
		if err == nil && len(settles) > 0 {
			err = a.settle()
		}
		if err != nil && ctx.Err() == nil { // when stopping, nothing is retried
			a.log.Error("session step failed; will retry from the last commit", "err", err)
			a.s.health.Failed(err, a.s.set.Now())
			a.reload()
		}
		for _, f := range append(flushes, settles...) {
			f <- err
		}
		now := a.s.set.Now()
		if active {
			lastActive = now
		} else if a.b.Idle() && now.Sub(lastActive) > idleEvict && a.s.removeIfEmpty(a) {
			return
		}
	}
}

// step applies queued events and new transcript lines, then commits the
// resulting spans, offsets, builder state and event deletions in ONE
// transaction. With toEOF it keeps going until every file is read to EOF,
// and commits each stepBudget of input in a goroutine while it reads and
// builds the next (encoding the spans and the bbolt commit overlap reading,
// redacting and parsing; one commit in flight at most, so memory stays
// bounded). A commit that fails stops the step with every event since the
// last good commit queued again; the caller reloads the builder and offsets
// from the spool, so the batch read meanwhile is read again. A backfill
// (paced) reads on only while the export keeps up (waitForExport).
func (a *actor) step(toEOF, paced bool) (active bool, err error) {
	var inflight *commitJob
	// finish waits for the commit in flight and completes it.
	finish := func(requeue []queuedEvent) error {
		c := inflight
		inflight = nil
		if err := <-c.done; err != nil {
			a.requeue(append(c.evs, requeue...))
			return err
		}
		a.committed(c)
		return nil
	}
	for {
		a.mu.Lock()
		evs, found := a.queue, a.found
		a.queue, a.found = nil, ""
		a.mu.Unlock()
		var readErr error
		for i, q := range evs {
			if a.s.ctx.Err() != nil {
				// Stopping: the rest stay in the spool for the next start,
				// and shutdown waits for one event, not the whole queue.
				a.requeue(evs[i:])
				evs = evs[:i]
				break
			}
			if readErr = a.applyEvent(q); readErr != nil {
				break
			}
			if a.transcript == "" {
				a.transcript = a.s.ownTranscript(a.agent, a.session, q.transcript)
			}
		}
		if a.transcript == "" {
			a.transcript = found
		}
		if readErr != nil {
			// As a failed commit: every event since the last commit is
			// applied again after the caller's reload.
			if inflight != nil {
				if err := finish(evs); err != nil {
					return true, err
				}
			}
			a.requeue(evs)
			return true, readErr
		}
		if paced {
			a.waitForExport()
		}
		var eof bool
		var read int64
		if a.s.ctx.Err() == nil {
			eof, read = a.readFiles()
		} else {
			toEOF = false // stopping: commit what was applied, read no more
		}
		a.b.Tick(a.s.set.Now())
		spans := a.b.Take()
		if len(evs) == 0 && read == 0 && len(spans) == 0 && !toEOF {
			return false, nil
		}
		c, err := a.prepare(evs, spans)
		if inflight != nil {
			if err := finish(evs); err != nil {
				return true, err
			}
		}
		if err != nil {
			a.requeue(evs)
			return true, err
		}
		inflight = c
		go func() { c.done <- a.write(c) }()
		// A stopping daemon does not read on to the end (a backfill of
		// hundreds of MB would outlast its shutdown): what was read is
		// committed, the rest is read at the next start.
		stopping := a.s.ctx.Err()
		if eof || !toEOF || stopping != nil {
			if err := finish(nil); err != nil {
				return true, err
			}
			if stopping != nil && !eof {
				return true, fmt.Errorf("the daemon is stopping: %w", stopping)
			}
			if !eof {
				a.poke() // more to read: continue right after this commit
			}
			return true, nil
		}
	}
}

// exportPoll is how often waitForExport looks at the spool's backlog.
const exportPoll = 2 * time.Millisecond

// waitForExport waits while more than s.backlog bytes of spans wait for
// export and the export works (when it fails the spool takes the spans, up
// to its size cap, as before), or until the daemon stops.
func (a *actor) waitForExport() {
	for {
		n, failing, err := a.s.store.Backlog()
		if err != nil || failing || n <= a.s.backlog {
			return
		}
		a.s.exported()
		select {
		case <-a.s.ctx.Done():
			return
		case <-time.After(exportPoll):
		}
	}
}

// readFiles feeds the builder the new lines of the session's files, up to
// stepBudget bytes. With several files (a main transcript and its subagents)
// the lines are merged in the order they were written — by their timestamps —
// as a live reader would have seen them: reading a main transcript to its end
// before a background subagent's file would close the subagent too early.
func (a *actor) readFiles() (eof bool, read int64) {
	files := a.files()
	if len(files) == 1 {
		path := files[0]
		t := a.tailer(path)
		n, atEOF, err := t.read(stepBudget, func(line []byte, _ int64) { a.b.Line(path, a.s.red.Line(line)) })
		a.readResult(path, err)
		return atEOF, n
	}
	per := max(int64(1<<20), stepBudget/int64(max(1, len(files))))
	cs := make([]*mergeCursor, 0, len(files))
	var m transcript.Merge
	for _, path := range files {
		t := a.tailer(path)
		lines, tail, atEOF, err := t.readLines(per)
		a.readResult(path, err)
		c := &mergeCursor{path: path, t: t, lines: lines, tail: tail, eof: atEOF}
		cs = append(cs, c)
		_ = m.Add(c) // lines read ahead: no read error
	}
	for {
		i, line, _, err := m.Next()
		if err != nil {
			break // all fed, or a file's next line is not read yet
		}
		next := cs[i]
		a.b.Line(next.path, a.s.red.Line(line))
		next.fed = next.i // the merge's pending line of a file is its last one read
		end := next.lines[next.fed-1].end
		if next.fed == len(next.lines) {
			end = next.tail // blank or skipped lines after the last one
		}
		read += end - next.t.st.Offset
		next.t.consume(end, next.tail)
	}
	eof = true
	for _, c := range cs {
		if len(c.lines) == 0 {
			read += c.tail - c.t.st.Offset
			c.t.consume(c.tail, c.tail) // only blank or skipped lines
		}
		if !c.eof || c.fed < len(c.lines) {
			eof = false
		}
	}
	return eof, read
}

// mergeCursor walks the lines read ahead from one of a session's files.
type mergeCursor struct {
	path  string
	t     *tailer
	lines []tailLine
	i     int // lines handed to the merge
	fed   int // lines fed to the builder
	tail  int64
	eof   bool
}

// Next hands the merge the next line read ahead. A file not at its end
// that ran out of read-ahead stalls the merge: its next line is unknown,
// so nothing can safely go first.
func (c *mergeCursor) Next() ([]byte, error) {
	if c.i == len(c.lines) {
		if !c.eof && len(c.lines) > 0 {
			return nil, transcript.ErrStalled
		}
		return nil, io.EOF
	}
	c.i++
	return c.lines[c.i-1].b, nil
}

// applyEvent feeds the builder a queued event with its payload read back
// from the spool, where it stays until the commit that applies it. An
// event missing or undecodable there (not expected: only that commit
// deletes it, and ingest encoded it) is skipped; a spool that cannot be
// read fails the step.
func (a *actor) applyEvent(q queuedEvent) error {
	ev := q.ev
	var skip error
	err := a.s.store.View(func(t *spool.Tx) error {
		rec := t.Event(q.seq)
		if rec == nil {
			skip = errors.New("not in the spool")
			return nil
		}
		var stored struct {
			Payload json.RawMessage `json:"payload"`
		}
		if err := json.Unmarshal(rec, &stored); err != nil {
			skip = err
			return nil
		}
		ev.Payload = stored.Payload
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading hook event %d back from the spool: %w", q.seq, err)
	}
	if skip != nil {
		a.log.Warn("skipped a stored hook event that could not be read back", "event", ev.Name, "seq", q.seq, "err", skip)
		return nil
	}
	a.b.Hook(ev)
	return nil
}

func (a *actor) requeue(evs []queuedEvent) {
	a.mu.Lock()
	a.queue = append(evs, a.queue...)
	a.mu.Unlock()
}

// reload re-reads the builder state and offsets from the spool after a failed
// commit, so memory matches what was committed.
func (a *actor) reload() {
	var rec sessionRecord
	offsets := map[string]fileState{}
	_ = a.s.store.View(func(t *spool.Tx) error {
		if b := t.Session(a.key); b != nil {
			_ = json.Unmarshal(b, &rec)
		}
		for p := range a.tailers {
			offsets[p] = decodeFileState(t.Offset(p))
		}
		return nil
	})
	factory := a.s.set.Builders[a.agent]
	if factory != nil {
		a.b = factory(a.agent, a.session, a.transcript)
		if len(rec.State) > 0 {
			_ = a.b.RestoreState(rec.State)
		}
		a.counted = a.b.Stats()
	}
	a.mu.Lock()
	for p, t := range a.tailers {
		t.st = offsets[p]
		t.skipped, t.resets = 0, 0 // they will be seen again
	}
	a.mu.Unlock()
}

func (a *actor) files() []string {
	seen := map[string]bool{}
	var out []string
	add := func(p string) {
		if p != "" && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	add(a.transcript)
	for _, p := range a.b.Files() {
		add(p)
	}
	return out
}

func (a *actor) tailer(path string) *tailer {
	a.mu.Lock()
	t, ok := a.tailers[path]
	a.mu.Unlock()
	if ok {
		return t
	}
	t = &tailer{path: path}
	_ = a.s.store.View(func(tx *spool.Tx) error {
		t.st = decodeFileState(tx.Offset(path))
		return nil
	})
	a.mu.Lock()
	a.tailers[path] = t
	a.mu.Unlock()
	a.s.watchFile(path)
	return t
}

// commitJob is one commit: what the actor's goroutine took from the
// builder and the tailers (prepare), written by write, which touches no
// actor state, so the actor can read on meanwhile.
type commitJob struct {
	evs                        []queuedEvent
	spans                      []genai.Span
	rec                        []byte
	offsets                    map[string][]byte
	skipped, truncated, resets int64
	done                       chan error
}

// commit stores spans and the session's progress, and waits.
func (a *actor) commit(evs []queuedEvent, spans []genai.Span) error {
	c, err := a.prepare(evs, spans)
	if err != nil {
		return err
	}
	if err := a.write(c); err != nil {
		return err
	}
	a.committed(c)
	return nil
}

// prepare takes what a commit stores from the builder and the tailers, in
// the actor's goroutine. The skipped-line counts move into the job: if its
// write fails, reload sets them back from the spool.
func (a *actor) prepare(evs []queuedEvent, spans []genai.Span) (*commitJob, error) {
	state, err := a.b.MarshalState()
	if err != nil {
		return nil, err
	}
	rec, err := json.Marshal(sessionRecord{Agent: a.agent, Session: a.session, Transcript: a.transcript,
		LastActive: a.s.set.Now(), State: state})
	if err != nil {
		return nil, err
	}
	stats := a.b.Stats()
	c := &commitJob{evs: evs, spans: spans, rec: rec, done: make(chan error, 1),
		skipped:   max(0, stats.SkippedLines-a.counted.SkippedLines),
		truncated: max(0, stats.TruncatedLines-a.counted.TruncatedLines)}
	a.counted = stats
	a.mu.Lock()
	c.offsets = make(map[string][]byte, len(a.tailers))
	for p, tl := range a.tailers {
		c.skipped += tl.skipped
		c.resets += tl.resets
		tl.skipped, tl.resets = 0, 0
		c.offsets[p] = tl.st.encode()
	}
	a.mu.Unlock()
	return c, nil
}

// write encodes the job's spans and commits them with the offsets, the
// builder state and the event deletions in one transaction.
func (a *actor) write(c *commitJob) error {
	type enc struct{ res, span []byte }
	encoded := make([]enc, 0, len(c.spans))
	for i := range c.spans {
		res, span, err := a.s.encode(&c.spans[i])
		if err != nil {
			a.log.Warn("could not encode a span; skipped", "name", c.spans[i].Name, "err", err)
			continue
		}
		encoded = append(encoded, enc{res, span})
	}
	now := a.s.set.Now()
	err := a.s.store.Update(func(t *spool.Tx) error {
		if err := t.Add(spool.CounterSkippedLines, c.skipped); err != nil {
			return err
		}
		if err := t.Add(counterTruncatedLines, c.truncated); err != nil {
			return err
		}
		if err := t.Add(spool.CounterTranscriptResets, c.resets); err != nil {
			return err
		}
		for _, e := range encoded {
			if err := t.Enqueue(e.res, e.span, now); err != nil {
				return err
			}
		}
		for p, off := range c.offsets {
			if err := t.SetOffset(p, off); err != nil {
				return err
			}
		}
		for _, q := range c.evs {
			if err := t.DeleteEvent(q.seq); err != nil {
				return err
			}
		}
		return t.SetSession(a.key, c.rec)
	})
	if err != nil {
		return err
	}
	a.s.health.OK()
	if c.skipped > 0 || c.resets > 0 || c.truncated > 0 {
		a.log.Warn("skipped transcript input", "lines", c.skipped, "truncated_or_replaced", c.resets, "lines_kept_in_part", c.truncated)
	}
	return nil
}

// committed completes a written job in the actor's goroutine: its events
// are no longer pending, and the forwarder has spans to send.
func (a *actor) committed(c *commitJob) {
	a.mu.Lock()
	for _, q := range c.evs {
		delete(a.pending, q.seq)
	}
	a.mu.Unlock()
	if len(c.spans) > 0 {
		a.s.exported()
	}
}

// nopBuilder stands in when no builder exists for an agent: events are
// stored and consumed, nothing is traced.
type nopBuilder struct{}

func (nopBuilder) Line(string, []byte)           {}
func (nopBuilder) Hook(transcript.Event)         {}
func (nopBuilder) Tick(time.Time)                {}
func (nopBuilder) Take() []genai.Span            { return nil }
func (nopBuilder) Files() []string               { return nil }
func (nopBuilder) Idle() bool                    { return true }
func (nopBuilder) MarshalState() ([]byte, error) { return nil, nil }
func (nopBuilder) RestoreState([]byte) error     { return nil }
func (nopBuilder) Stats() transcript.Stats       { return transcript.Stats{} }
