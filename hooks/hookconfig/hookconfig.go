// Package hookconfig registers weave-agentd's hook client in an agent's
// hook settings (Claude Code's settings.json, Cursor's hooks.json: an
// Agent value says where they are, their shape and events), and reports
// what is registered.
//
// The files belong to the user: every other key and hook keeps its meaning
// and its place, only handlers that run weave-agentd-hook are added, replaced
// or removed, the previous version is kept as <file>.weave-agentd.bak, the new
// one is written atomically with the old file mode, and a file that is not
// valid JSON is refused and left untouched. Standard library only.
package hookconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Path is the config file we edit, given the agent's home folder (where
// the agent keeps its files, transcript.Agent.Home): for Claude Code
// <home>/settings.json or a project's .claude/settings.local.json
// (personal, not committed); for Cursor <home>/hooks.json or a project's
// .cursor/hooks.json. An empty project means user scope.
func Path(agent Agent, home, project string) (string, error) {
	f, err := checkAgent(agent)
	if err != nil {
		return "", err
	}
	if project == "" {
		return filepath.Join(home, f.File), nil
	}
	abs, err := filepath.Abs(project)
	if err != nil {
		return "", err
	}
	return filepath.Join(abs, f.Project), nil
}

// BackupSuffix is appended to a file's name for the copy kept before we change it.
const BackupSuffix = ".weave-agentd.bak"

// Result says what Install or Uninstall did.
type Result struct {
	Path    string
	Changed bool     // the file was (re)written
	Created bool     // the file did not exist before
	Backup  string   // the copy of the previous version, when one was made
	Events  []string // events with our handler afterwards
	Stale   []Entry  // our handlers that were replaced or removed because they differed (moved binary, old options, duplicates, events no longer wanted)
}

// InvalidJSONError is returned, and nothing is written, when the user's file
// cannot be parsed.
type InvalidJSONError struct {
	Path string
	Err  error
}

func (e *InvalidJSONError) Error() string {
	return fmt.Sprintf("%s is not valid JSON (%v); left it untouched: fix or move the file, then run this again", e.Path, e.Err)
}

func (e *InvalidJSONError) Unwrap() error { return e.Err }

// Install registers our handler for spec's events in the file at path,
// creating it when missing, and removes our handlers from other events.
func Install(path string, agent Agent, spec Spec) (Result, error) {
	if !filepath.IsAbs(spec.HookBinary) {
		return Result{Path: path}, fmt.Errorf("hook binary %q: want an absolute path", spec.HookBinary)
	}
	events, err := spec.events(agent)
	if err != nil {
		return Result{Path: path}, err
	}
	return update(path, agent, events, spec)
}

// Uninstall removes our handlers from the file at path; everything else stays.
func Uninstall(path string, agent Agent) (Result, error) {
	return update(path, agent, nil, Spec{HookBinary: "/" + HookBinaryName})
}

func update(path string, agent Agent, events []string, spec Spec) (Result, error) {
	res := Result{Path: path}
	target := path
	if t, err := filepath.EvalSymlinks(path); err == nil {
		target = t // a dotfile manager's symlink stays a symlink
	}
	for attempt := 0; ; attempt++ {
		f, err := readConfig(target)
		if err != nil {
			return res, err
		}
		if !f.exists && len(events) == 0 {
			return res, nil // nothing to remove
		}
		out, err := edit(agent, f.doc, events, spec)
		if err != nil {
			return res, fmt.Errorf("%s: %w; left it untouched", path, err)
		}
		now, err := entries(agent, out)
		if err != nil {
			return res, err
		}
		before, _ := entries(agent, f.doc)
		res.Events = eventNames(now)
		res.Stale = staleEntries(before, now)
		if compactEqual(f.doc, out) {
			return res, nil
		}
		data := format(out, f.indent)
		if f.bom {
			data = append([]byte("\ufeff"), data...)
		}
		err = writeConfig(target, f, data)
		if errors.Is(err, errChangedMeanwhile) && attempt < 3 {
			continue
		}
		if err != nil {
			return res, err
		}
		res.Changed = true
		res.Created = !f.exists
		if f.exists {
			res.Backup = target + BackupSuffix
		}
		return res, nil
	}
}

func eventNames(es []Entry) []string {
	var out []string
	seen := map[string]bool{}
	for _, e := range es {
		if !seen[e.Event] {
			seen[e.Event] = true
			out = append(out, e.Event)
		}
	}
	return out
}

// staleEntries are the entries of before that are not in after unchanged.
func staleEntries(before, after []Entry) []Entry {
	left := map[Entry]int{}
	for _, e := range after {
		left[e]++
	}
	var out []Entry
	for _, e := range before {
		if left[e] > 0 {
			left[e]--
			continue
		}
		out = append(out, e)
	}
	return out
}

type configFile struct {
	exists bool
	raw    []byte // bytes on disk
	doc    []byte // the JSON document (BOM stripped; "{}" for an empty file)
	mode   fs.FileMode
	bom    bool
	indent string
}

func readConfig(path string) (configFile, error) {
	f := configFile{mode: 0o600, indent: "  ", doc: []byte("{}")}
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return f, fmt.Errorf("read %s: %w", path, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return f, err
	}
	f.exists, f.raw, f.mode = true, raw, st.Mode().Perm()
	doc := raw
	if bytes.HasPrefix(doc, []byte("\ufeff")) {
		doc, f.bom = doc[3:], true
	}
	if len(bytes.TrimSpace(doc)) == 0 {
		return f, nil
	}
	if err := validate(doc); err != nil {
		return f, &InvalidJSONError{Path: path, Err: err}
	}
	f.doc = doc
	f.indent = detectIndent(doc)
	return f, nil
}

// validate checks syntax and that the top level is an object, and names the
// line of a syntax error.
func validate(doc []byte) error {
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line := 1 + bytes.Count(doc[:min(int(se.Offset), len(doc))], []byte("\n"))
			return fmt.Errorf("line %d: %v", line, se)
		}
		return err
	}
	if _, ok := v.(map[string]any); !ok {
		return errors.New("the top level is not an object")
	}
	return nil
}

var errChangedMeanwhile = errors.New("file changed while we were editing it")

// writeConfig keeps a backup of the previous version and replaces the file
// atomically, with its previous mode. If the agent rewrote the file in the
// meantime, nothing is replaced and errChangedMeanwhile is returned.
func writeConfig(path string, f configFile, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".weave-agentd-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := writeSync(tmp, f.mode, data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if f.exists {
		if err := writeFileAtomic(path+BackupSuffix, f.raw, f.mode); err != nil {
			return fmt.Errorf("back up %s: %w", path, err)
		}
	}
	cur, err := os.ReadFile(path)
	switch {
	case f.exists && (err != nil || !bytes.Equal(cur, f.raw)):
		return errChangedMeanwhile
	case !f.exists && err == nil:
		return errChangedMeanwhile
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	syncDir(dir)
	return nil
}

func writeSync(f *os.File, mode fs.FileMode, data []byte) error {
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func writeFileAtomic(path string, data []byte, mode fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := writeSync(tmp, mode, data); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// Status is what one config file holds of ours.
type Status struct {
	Agent   Agent
	Path    string
	Exists  bool
	Entries []Entry  // our handlers, in file order
	Events  []string // events with at least one of our handlers
	Missing []string // wanted events without our handler
	Extra   []string // events with our handler that we would not register now
	// Duplicates are events with more than one of our handlers.
	Duplicates []string
	// Binaries are the distinct hook binaries our handlers run.
	Binaries []string
	// BinaryMissing lists those of Binaries that do not exist or are not executable.
	BinaryMissing []string
	// Current: every handler runs spec's binary with spec's command.
	Current bool
}

// Registered reports whether every wanted event has exactly our current
// handler and its binary exists.
func (s Status) Registered() bool {
	return s.Exists && len(s.Entries) > 0 && len(s.Missing) == 0 && len(s.Duplicates) == 0 &&
		len(s.BinaryMissing) == 0 && s.Current
}

// Summary is one line for humans.
func (s Status) Summary() string {
	switch {
	case !s.Exists:
		return "not registered (no file)"
	case len(s.Entries) == 0:
		return "not registered"
	}
	var parts []string
	parts = append(parts, fmt.Sprintf("%d event(s): %s", len(s.Events), strings.Join(s.Events, ", ")))
	if len(s.Missing) > 0 {
		parts = append(parts, "missing: "+strings.Join(s.Missing, ", "))
	}
	if len(s.Extra) > 0 {
		parts = append(parts, "not wanted: "+strings.Join(s.Extra, ", "))
	}
	if len(s.Duplicates) > 0 {
		parts = append(parts, "duplicated: "+strings.Join(s.Duplicates, ", "))
	}
	if len(s.BinaryMissing) > 0 {
		parts = append(parts, "binary missing: "+strings.Join(s.BinaryMissing, ", "))
	}
	if !s.Current {
		parts = append(parts, "runs "+strings.Join(s.Binaries, ", ")+", not this install's")
	}
	return strings.Join(parts, "; ")
}

// Inspect reads the file at path and compares it with spec (the events are
// spec's, or the agent's defaults when nil).
func Inspect(path string, agent Agent, spec Spec) (Status, error) {
	st := Status{Agent: agent, Path: path}
	want, err := spec.events(agent)
	if err != nil {
		return st, err
	}
	f, err := readConfig(path)
	if err != nil {
		return st, err
	}
	st.Exists = f.exists
	es, err := entries(agent, f.doc)
	if err != nil {
		return st, fmt.Errorf("%s: %w", path, err)
	}
	st.Entries = es
	st.Events = eventNames(es)
	have := map[string]int{}
	for _, e := range es {
		have[e.Event]++
	}
	wanted := map[string]bool{}
	for _, e := range want {
		wanted[e] = true
		if have[e] == 0 {
			st.Missing = append(st.Missing, e)
		}
	}
	for _, e := range st.Events {
		if !wanted[e] {
			st.Extra = append(st.Extra, e)
		}
		if have[e] > 1 {
			st.Duplicates = append(st.Duplicates, e)
		}
	}
	command := agent.command(spec)
	st.Current = len(es) > 0
	seen := map[string]bool{}
	for _, e := range es {
		if e.Command != command {
			st.Current = false
		}
		if seen[e.Binary] {
			continue
		}
		seen[e.Binary] = true
		st.Binaries = append(st.Binaries, e.Binary)
		if fi, err := os.Stat(e.Binary); err != nil || fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
			st.BinaryMissing = append(st.BinaryMissing, e.Binary)
		}
	}
	return st, nil
}
