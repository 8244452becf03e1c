package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// DiscoverRoot is a folder where an agent keeps transcripts, so sessions are
// traced even when no hook fires (Claude Code holds hooks back in folders
// the user has not trusted). Layout: <Dir>/<project>/<session>.jsonl.
type DiscoverRoot struct {
	Agent string // genai.AgentClaudeCode
	Dir   string // e.g. ~/.claude/projects
}

// discovery watches the roots and starts a session actor for every main
// transcript that changes, with a periodic rescan as a safety net.
type discovery struct {
	set     Settings
	log     *slog.Logger
	sess    *sessions
	ignored func(dir string) bool
	since   time.Time // files last modified before this are left to backfill
	seen    map[string]time.Time
	now     chan chan struct{} // flush: rescan now and say when done

	ancestors map[string]bool // watched while a root does not exist yet
}

// rescanNow asks the discovery loop for a rescan and waits for it.
func (d *discovery) rescanNow(ctx context.Context) {
	if len(d.set.Discover) == 0 {
		return
	}
	done := make(chan struct{})
	select {
	case d.now <- done:
	case <-ctx.Done():
		return
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
}

func newDiscovery(set Settings, sess *sessions, ignored func(string) bool) *discovery {
	since := set.Now().Add(-set.DiscoverWindow)
	return &discovery{set: set, log: set.Logger, sess: sess, ignored: ignored, since: since, seen: map[string]time.Time{}, ancestors: map[string]bool{}, now: make(chan chan struct{})}
}

func (d *discovery) run(ctx context.Context) {
	if len(d.set.Discover) == 0 {
		return
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		d.log.Warn("transcript discovery without file watching; rescanning periodically", "err", err)
	} else {
		defer w.Close()
	}
	d.rescan(w)
	tick := time.NewTicker(d.set.RescanInterval)
	defer tick.Stop()
	var events chan fsnotify.Event
	if w != nil {
		events = w.Events
	}
	// The debounce is armed by the first write and not pushed back by the
	// next ones: a transcript written continuously must not starve the
	// discovery of a new one.
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	armed := false
	arm := func() {
		if !armed {
			debounce.Reset(200 * time.Millisecond)
			armed = true
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if ev.Has(fsnotify.Create) {
				if fi, err := os.Stat(ev.Name); err == nil && fi.IsDir() {
					switch {
					case d.isRoot(filepath.Dir(ev.Name)):
						_ = w.Add(ev.Name) // a new project folder: a transcript may already be in it
						arm()
					case d.leadsToRoot(ev.Name):
						d.rescan(w) // a root (or a folder on its way) appeared: watch it
					}
				}
			}
			if strings.HasSuffix(ev.Name, ".jsonl") {
				arm()
			}
		case <-debounce.C:
			armed = false
			d.rescan(nil)
		case done := <-d.now:
			d.rescan(nil)
			close(done)
		case <-tick.C:
			d.rescan(w)
		}
	}
}

// rescan visits every project folder of every root; with w it also (re)adds
// the folder watches.
func (d *discovery) rescan(w *fsnotify.Watcher) {
	for _, root := range d.set.Discover {
		if w != nil {
			d.watchRoot(w, root.Dir)
		}
		projects, err := os.ReadDir(root.Dir)
		if err != nil {
			continue
		}
		for _, p := range projects {
			if !p.IsDir() {
				continue
			}
			dir := filepath.Join(root.Dir, p.Name())
			if w != nil {
				_ = w.Add(dir)
			}
			files, err := os.ReadDir(dir)
			if err != nil {
				continue
			}
			for _, f := range files {
				d.consider(root.Agent, dir, f)
			}
		}
	}
}

// watchRoot watches a root folder or, until it exists (Claude Code not yet
// run), its nearest existing ancestor, so that its creation is seen at once
// rather than at the next periodic rescan.
func (d *discovery) watchRoot(w *fsnotify.Watcher, dir string) {
	if w.Add(dir) == nil {
		for a := range d.ancestors {
			if strings.HasPrefix(dir, a+string(filepath.Separator)) {
				_ = w.Remove(a)
				delete(d.ancestors, a)
			}
		}
		return
	}
	for p := filepath.Dir(dir); p != filepath.Dir(p); p = filepath.Dir(p) {
		if _, err := os.Stat(p); err == nil {
			if !d.ancestors[p] && w.Add(p) == nil {
				d.ancestors[p] = true
			}
			return
		}
	}
}

func (d *discovery) isRoot(dir string) bool {
	for _, root := range d.set.Discover {
		if root.Dir == dir {
			return true
		}
	}
	return false
}

// leadsToRoot reports whether dir is a root or one of its ancestors.
func (d *discovery) leadsToRoot(dir string) bool {
	for _, root := range d.set.Discover {
		if root.Dir == dir || strings.HasPrefix(root.Dir, dir+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

func (d *discovery) consider(agent, dir string, f fs.DirEntry) {
	name := f.Name()
	if f.IsDir() || !strings.HasSuffix(name, ".jsonl") || strings.HasPrefix(name, "agent-") {
		return // subagent files are found by their session's builder
	}
	info, err := f.Info()
	if err != nil || info.ModTime().Before(d.since) {
		return
	}
	path := filepath.Join(dir, name)
	if last, ok := d.seen[path]; ok && !info.ModTime().After(last) {
		return
	}
	d.seen[path] = info.ModTime()
	cwd, err := firstCwd(path)
	var se *skipError
	if errors.As(err, &se) {
		d.sess.fileSkipped(se, d.log) // no actor for a FIFO or a device
		return
	}
	if cwd != "" && d.ignored(cwd) {
		return
	}
	if a := d.sess.actor(agent, strings.TrimSuffix(name, ".jsonl"), path); a != nil {
		a.poke()
	}
}

// firstCwd finds the first "cwd" value in the head of a transcript, to apply
// exclusions before anything is read into spans. A path that is not a
// regular file of ours gives openTranscript's *skipError.
func firstCwd(path string) (string, error) {
	f, _, err := openTranscript(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	head, _ := io.ReadAll(io.LimitReader(f, 256<<10))
	for _, line := range bytes.Split(head, []byte("\n")) {
		if !bytes.Contains(line, []byte(`"cwd"`)) {
			continue
		}
		var rec struct {
			Cwd string `json:"cwd"`
		}
		if json.Unmarshal(line, &rec) == nil && rec.Cwd != "" {
			return rec.Cwd, nil
		}
	}
	return "", nil
}
