package sessions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// DiscoverRoot is the folder where an agent keeps its session transcripts
// (the Root of its transcript.Layout under its home), watched so sessions
// are traced even when no hook fires (Claude Code holds hooks back in
// folders the user has not trusted). The files are found by the agent's
// Layout globs, relative to Dir.
type DiscoverRoot struct {
	Agent string // genai.AgentClaudeCode
	Dir   string // e.g. ~/.claude/projects
}

// discoverRoot is a DiscoverRoot with its agent.
type discoverRoot struct {
	DiscoverRoot
	agent transcript.Agent
	globs []string // the agent's session globs, relative to Dir
	dirs  []string // globs of the folders on the way to a transcript
}

// resolveRoots looks up the agent of each root in the registry.
func resolveRoots(roots []DiscoverRoot, log *slog.Logger) []discoverRoot {
	var out []discoverRoot
	for _, r := range roots {
		a, ok := transcript.AgentByName(r.Agent)
		if !ok {
			log.Warn("transcript discovery: unknown agent; its folder is not watched", "agent", r.Agent, "dir", r.Dir)
			continue
		}
		dr := discoverRoot{DiscoverRoot: r, agent: a, globs: a.Layout().Sessions}
		for _, g := range dr.globs {
			for d := filepath.Dir(g); d != "."; d = filepath.Dir(d) {
				if !slices.Contains(dr.dirs, d) {
					dr.dirs = append(dr.dirs, d)
				}
			}
		}
		slices.SortFunc(dr.dirs, func(a, b string) int { return strings.Count(a, "/") - strings.Count(b, "/") })
		out = append(out, dr)
	}
	return out
}

// matchIn reports whether path is under the root and matches one of the
// globs (relative to the root's folder).
func (r discoverRoot) matchIn(path string, globs []string) bool {
	rel, err := filepath.Rel(r.Dir, path)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return false
	}
	for _, g := range globs {
		if ok, _ := filepath.Match(g, rel); ok {
			return true
		}
	}
	return false
}

// discovery watches the roots and starts a session actor for every main
// transcript that changes, with a periodic rescan as a safety net.
type discovery struct {
	set     DiscoverySettings
	log     *slog.Logger
	roots   []discoverRoot
	sess    *sessions
	ignored func(dir string) bool
	since   time.Time // files last modified before this are left to backfill
	seen    map[string]time.Time
	now     chan chan struct{} // flush: rescan now and say when done

	ancestors map[string]bool // watched while a root does not exist yet
}

// rescanNow asks the discovery loop for a rescan and waits for it.
func (d *discovery) rescanNow(ctx context.Context) {
	if len(d.roots) == 0 {
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

func newDiscovery(set DiscoverySettings, sess *sessions) *discovery {
	since := set.Now().Add(-set.Window)
	return &discovery{set: set, log: set.Logger, roots: resolveRoots(set.Roots, set.Logger), sess: sess, ignored: set.Ignored, since: since, seen: map[string]time.Time{}, ancestors: map[string]bool{}, now: make(chan chan struct{})}
}

func (d *discovery) run(ctx context.Context) {
	if len(d.roots) == 0 {
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
					case d.onTheWay(ev.Name):
						_ = w.Add(ev.Name) // a new project folder: a transcript may already be in it
						arm()
					case d.leadsToRoot(ev.Name):
						d.rescan(w) // a root (or a folder on its way) appeared: watch it
					}
				}
			}
			if d.isTranscript(ev.Name) {
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

// rescan looks for the session transcripts of every root; with w it also
// (re)adds the folder watches.
func (d *discovery) rescan(w *fsnotify.Watcher) {
	for _, root := range d.roots {
		if w != nil {
			d.watchRoot(w, root.Dir)
			for _, g := range root.dirs {
				for _, dir := range transcript.Glob(root.Dir, g) {
					if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
						_ = w.Add(dir)
					}
				}
			}
		}
		for _, g := range root.globs {
			for _, path := range transcript.Glob(root.Dir, g) {
				d.consider(root, path)
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

// onTheWay reports whether dir is a folder on the way from a root to its
// transcripts (a project folder).
func (d *discovery) onTheWay(dir string) bool {
	for _, root := range d.roots {
		if root.matchIn(dir, root.dirs) {
			return true
		}
	}
	return false
}

// isTranscript reports whether path may be a session transcript of a root.
func (d *discovery) isTranscript(path string) bool {
	for _, root := range d.roots {
		if root.matchIn(path, root.globs) {
			return true
		}
	}
	return false
}

// leadsToRoot reports whether dir is a root or one of its ancestors.
func (d *discovery) leadsToRoot(dir string) bool {
	for _, root := range d.roots {
		if root.Dir == dir || strings.HasPrefix(root.Dir, dir+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

func (d *discovery) consider(root discoverRoot, path string) {
	if !root.agent.IsSession(path) {
		return // subagent files are found by their session's builder
	}
	info, err := os.Lstat(path)
	if err != nil || info.IsDir() || info.ModTime().Before(d.since) {
		return
	}
	if last, ok := d.seen[path]; ok && !info.ModTime().After(last) {
		return
	}
	d.seen[path] = info.ModTime()
	cwd, err := transcriptCwd(root.agent, path)
	var se *skipError
	if errors.As(err, &se) {
		d.sess.fileSkipped(se, d.log) // no actor for a FIFO or a device
		return
	}
	if cwd != "" && d.ignored(cwd) {
		return
	}
	session := root.agent.Session(path)
	if session == "" {
		delete(d.seen, path) // its id is not written yet: again at its next change
		return
	}
	if a := d.sess.actor(root.Agent, session, path); a != nil {
		a.poke()
	}
}

// transcriptCwd is the working folder of a transcript, to apply exclusions
// before anything is read into spans: the first one its head records, read
// by the agent when it knows where its lines keep it (transcript.CwdRecorder:
// Codex CLI's is inside a session_meta payload), else a top-level "cwd"
// field; then, for an agent whose lines record none, the place of the file
// (transcript.Projector). A path that is not a regular file of ours gives
// openTranscript's *skipError.
func transcriptCwd(a transcript.Agent, path string) (string, error) {
	f, _, err := openTranscript(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	cwdOf := topLevelCwd
	if r, ok := a.(transcript.CwdRecorder); ok {
		cwdOf = r.Cwd
	}
	head, _ := io.ReadAll(io.LimitReader(f, 256<<10))
	for _, line := range bytes.Split(head, []byte("\n")) {
		if !bytes.Contains(line, []byte(`"cwd"`)) {
			continue
		}
		if cwd := cwdOf(line); cwd != "" {
			return cwd, nil
		}
	}
	if p, ok := a.(transcript.Projector); ok {
		if dir := p.Project(path); filepath.IsAbs(dir) {
			return dir, nil
		}
	}
	return "", nil
}

// topLevelCwd is the "cwd" field of a JSON line, or "".
func topLevelCwd(line []byte) string {
	var rec struct {
		Cwd string `json:"cwd"`
	}
	if json.Unmarshal(line, &rec) != nil {
		return ""
	}
	return rec.Cwd
}
