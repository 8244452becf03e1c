package sessions

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/weave-agentd/weave-agentd/control"
	"github.com/weave-agentd/weave-agentd/hooks"
	"github.com/weave-agentd/weave-agentd/spool"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// backfiller runs one import at a time; a new request while one runs reports
// the running one.
type backfiller struct {
	set        Settings
	store      *spool.Store
	sess       *sessions
	mu         sync.Mutex
	job        *control.BackfillProgress
	n          int
	spansStart int64 // spool span counter when the job started
}

type backfillFile struct {
	agent, session, path string
	size                 int64
	a                    transcript.Agent
}

func (b *backfiller) start(args control.BackfillArgs) (control.BackfillProgress, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.job != nil && !b.job.Done {
		return *b.job, nil
	}
	var since time.Time
	if args.Since != "" {
		dur, err := time.ParseDuration(args.Since)
		if err != nil {
			return control.BackfillProgress{}, fmt.Errorf("--since %q: %w", args.Since, err)
		}
		since = b.set.Now().Add(-dur)
	}
	files, skipped, err := b.collect(args, since)
	if err != nil {
		return control.BackfillProgress{}, err
	}
	b.n++
	st, _ := b.store.Stats()
	job := &control.BackfillProgress{ID: b.n, Started: b.set.Now(), Files: len(files), Skipped: skipped}
	for _, f := range files {
		job.Bytes += f.size
	}
	b.job = job
	b.spansStart = st.Counters[spool.CounterSpans]
	go b.run(job, files)
	return *job, nil
}

func (b *backfiller) progress() (control.BackfillProgress, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.job == nil {
		return control.BackfillProgress{}, false
	}
	return *b.job, true
}

// collect lists the main transcripts to import, oldest first.
func (b *backfiller) collect(args control.BackfillArgs, since time.Time) ([]backfillFile, []string, error) {
	var files []backfillFile
	var skipped []string
	seen := map[string]bool{}
	add := func(a transcript.Agent, path string, fi fs.FileInfo) {
		if fi.IsDir() || !a.IsSession(path) || fi.ModTime().Before(since) || seen[path] {
			return
		}
		session := a.Session(path)
		if session == "" {
			return // nothing written yet
		}
		if len(session) > hooks.MaxSessionID {
			b.set.Logger.Warn("backfill skips a transcript whose session id is too long to be one", "file", path, "bytes", len(session))
			return
		}
		seen[path] = true
		files = append(files, backfillFile{agent: a.Name(), session: session, path: path, size: fi.Size(), a: a})
	}
	roots := resolveRoots(b.set.Discover, b.set.Logger)
	if len(args.Paths) > 0 {
		roots = nil
		for _, p := range args.Paths {
			abs, err := filepath.Abs(p)
			if err != nil {
				return nil, nil, err
			}
			fi, err := os.Stat(abs)
			if err != nil {
				return nil, nil, fmt.Errorf("backfill %s: %w", p, err)
			}
			a := transcript.AgentForPath(abs, b.set.AgentHomes)
			if a == nil {
				return nil, nil, fmt.Errorf("backfill %s: no agent's transcripts", p)
			}
			if !fi.IsDir() {
				if !a.IsSession(abs) {
					skipped = append(skipped, p)
					continue
				}
				add(a, abs, fi)
				continue
			}
			roots = append(roots, discoverRoot{DiscoverRoot: DiscoverRoot{Agent: a.Name(), Dir: abs}, agent: a})
		}
	}
	for _, r := range roots {
		if args.Agent != "" && r.Agent != args.Agent {
			continue
		}
		if _, ok := b.set.Builders[r.Agent]; !ok {
			continue
		}
		_ = filepath.WalkDir(r.Dir, func(path string, de fs.DirEntry, err error) error {
			if err != nil {
				return nil // unreadable folder: skip it, keep going
			}
			if fi, err := de.Info(); err == nil {
				add(r.agent, path, fi)
			}
			return nil
		})
	}
	sortFilesByModTime(files)
	return files, skipped, nil
}

func sortFilesByModTime(files []backfillFile) {
	mt := func(p string) time.Time {
		if fi, err := os.Stat(p); err == nil {
			return fi.ModTime()
		}
		return time.Time{}
	}
	times := make(map[string]time.Time, len(files))
	for _, f := range files {
		times[f.path] = mt(f.path)
	}
	// insertion sort is fine for thousands; keep it stable and simple
	for i := 1; i < len(files); i++ {
		for j := i; j > 0 && times[files[j].path].Before(times[files[j-1].path]); j-- {
			files[j], files[j-1] = files[j-1], files[j]
		}
	}
}

// backfillSessions is how many sessions a backfill reads at once. Two keep
// two cores busy (each actor also commits in a goroutine of its own while it
// reads on); each more costs ~15 MB of heap (a step being built, one being
// committed, the builder's state): under the daemon's 64 MiB soft heap limit
// four at once took the peak RSS to 92–97 MB (75 with two) and cost more
// CPU per MB, 24–31 MB/cpu-s against 36–52 with two, the garbage collector
// working at the limit (BenchmarkBackfillInProcess/sessions with -cpu 4).
const backfillSessions = 2

// run reads each file to EOF through its session's actor (which commits
// spans and offsets as it goes, so an interrupted backfill resumes where it
// stopped and a second run adds nothing). backfillSessions sessions are
// read at once, each by its own actor; after a failure no further file is
// started.
func (b *backfiller) run(job *control.BackfillProgress, files []backfillFile) {
	ctx := b.sess.ctx
	slots := make(chan struct{}, backfillSessions)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failure error
	failed := func() error {
		mu.Lock()
		defer mu.Unlock()
		return failure
	}
	for _, f := range files {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil || failed() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-slots }()
			if err := b.file(ctx, job, f); err != nil {
				mu.Lock()
				if failure == nil {
					failure = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	err := failed()
	if err == nil && ctx.Err() != nil {
		err = errors.New("daemon stopping; run backfill again to resume")
	}
	if err == nil {
		b.set.Kick()
	}
	b.finish(job, err)
}

// file reads one file to EOF through its session's actor.
func (b *backfiller) file(ctx context.Context, job *control.BackfillProgress, f backfillFile) error {
	b.mu.Lock()
	job.Current = f.path
	b.mu.Unlock()
	if cwd, _ := transcriptCwd(f.a, f.path); cwd != "" && b.set.Ignored(cwd) { // a file skipped here is skipped by its tailer too
		b.advance(job, f)
		return nil
	}
	a := b.sess.actor(f.agent, f.session, f.path)
	if a == nil {
		return errors.New("daemon stopping")
	}
	done := make(chan error, 1)
	a.requestFlush(done, true)
	select {
	case err := <-done:
		if err != nil {
			// Nothing read from this file since the last commit is
			// stored: stop here (the next files would fail alike) and
			// say so, rather than report spans that are not queued.
			b.sess.releaseIfIdle(a)
			return fmt.Errorf("could not store what was read from %s: %w; free space (or fix the spool's file system) and run backfill again: it resumes where it stopped", f.path, err)
		}
	case <-ctx.Done():
		return errors.New("daemon stopping; run backfill again to resume")
	}
	b.sess.releaseIfIdle(a)
	b.advance(job, f)
	return nil
}

func (b *backfiller) advance(job *control.BackfillProgress, f backfillFile) {
	st, _ := b.store.Stats()
	b.mu.Lock()
	job.FilesDone++
	job.BytesDone += f.size
	job.Spans = st.Counters[spool.CounterSpans] - b.spansStart
	b.mu.Unlock()
}

func (b *backfiller) finish(job *control.BackfillProgress, err error) {
	st, _ := b.store.Stats()
	b.mu.Lock()
	defer b.mu.Unlock()
	job.Done = true
	job.Current = ""
	job.Spans = st.Counters[spool.CounterSpans] - b.spansStart
	if err != nil {
		job.Error = err.Error()
	}
}
