// Package catalog finds the conversations coding agents left on disk and
// summarises them, for sessions and show. It knows the agents only as
// registered transcript.Agent values: each is searched under its Home by
// its Layout (IsSession picks the main transcripts, Session names them)
// and replayed by its span builder; the optional interfaces
// transcript.CwdRecorder and transcript.Projector give a conversation's
// project, and transcript.Counter counts the transcripts of an agent whose
// spans come from its hooks (Discover false), which cannot be replayed.
//
// Listing is cheap: Find only reads folders and stats files, which is enough
// to filter by age (a transcript's modification time is its last activity).
// Summarize and Load replay one conversation through the agent's span
// builder (the same code the daemon runs), streaming the file line by line:
// Summarize keeps only counters, so its memory does not grow with the file;
// Load keeps the spans, for rendering one conversation.
package catalog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/weave-agentd/weave-agentd/internal/regular"

	"github.com/weave-agentd/weave-agentd/transcript"
	_ "github.com/weave-agentd/weave-agentd/transcript/agents" // every agent
)

// Options says where the agents keep their transcripts and which ones to
// consider.
type Options struct {
	// Homes are the agents' homes by name (transcript.AgentHomes). An
	// agent without one is not searched.
	Homes map[string]string
	// Agent keeps only one agent's conversations (its transcript.Agent
	// Name); empty means all.
	Agent string
	// Since skips conversations whose transcript was last modified before it.
	Since time.Time
}

// File is one conversation's main transcript, as found on disk (no content
// read).
type File struct {
	Agent   string    `json:"agent"`   // its transcript.Agent Name
	Session string    `json:"session"` // session / conversation id
	Path    string    `json:"path"`    // main transcript, absolute
	Size    int64     `json:"size"`
	ModTime time.Time `json:"modified"`
}

// Root is a folder searched for one agent's conversations.
type Root struct {
	Agent  string `json:"agent"`
	Dir    string `json:"dir"`
	Exists bool   `json:"exists"`
	// Conversations is how many were found there (before the Since filter).
	Conversations int `json:"conversations"`
}

// home is the agent's home folder from the options, "" when not
// configured (the agent is not searched).
func home(o Options, a transcript.Agent) string { return o.Homes[a.Name()] }

// root is the folder listed, "" when the agent's home is not configured.
func root(o Options, a transcript.Agent) string {
	h := home(o, a)
	if h == "" {
		return ""
	}
	return filepath.Join(h, a.Layout().Root)
}

// list calls fn for each main transcript under root, found by the agent's
// layout.
func list(a transcript.Agent, root string, fn func(File)) {
	seen := map[string]bool{}
	for _, g := range a.Layout().Sessions {
		for _, path := range transcript.Glob(root, g) {
			if seen[path] || !a.IsSession(path) {
				continue
			}
			seen[path] = true
			fi, err := os.Stat(path) // follows a symlinked transcript
			if err != nil || !fi.Mode().IsRegular() {
				continue
			}
			fn(File{Agent: a.Name(), Session: sessionOf(a, path), Path: path, Size: fi.Size(), ModTime: fi.ModTime()})
		}
	}
}

// sessionOf is the agent's session id of a transcript, or its file name
// while the file does not tell it yet (nothing written).
func sessionOf(a transcript.Agent, path string) string {
	if s := a.Session(path); s != "" {
		return s
	}
	return strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
}

// AgentName maps what a user types (claude, claude-code, cursor) to the
// agent name used everywhere else; ok is false for an unknown agent.
func AgentName(s string) (string, bool) {
	if a, ok := transcript.AgentNamed(s); ok {
		return a.Name(), true
	}
	return "", false
}

// Find lists the conversations on disk, newest (last modified) first, and
// the folders it searched. It only reads folders and stats files.
func Find(o Options) ([]File, []Root, error) {
	var files []File
	var roots []Root
	for _, a := range transcript.Agents() {
		if o.Agent != "" && o.Agent != a.Name() {
			continue
		}
		dir := root(o, a)
		if dir == "" {
			continue
		}
		r := Root{Agent: a.Name(), Dir: dir}
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			r.Exists = true
			list(a, dir, func(f File) {
				r.Conversations++
				if !o.Since.IsZero() && f.ModTime.Before(o.Since) {
					return
				}
				files = append(files, f)
			})
		}
		roots = append(roots, r)
	}
	sortNewestFirst(files)
	return files, roots, nil
}

func sortNewestFirst(files []File) {
	sort.SliceStable(files, func(i, j int) bool {
		if !files[i].ModTime.Equal(files[j].ModTime) {
			return files[i].ModTime.After(files[j].ModTime)
		}
		return files[i].Path < files[j].Path
	})
}

// NotFoundError says that no conversation matches a query, and where the
// search looked.
type NotFoundError struct {
	Query string
	Roots []Root
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("no conversation matches %q", e.Query)
}

// AmbiguousError says that a prefix matches several conversations.
type AmbiguousError struct {
	Query   string
	Matches []File // newest first
}

func (e *AmbiguousError) Error() string {
	return fmt.Sprintf("%q matches %d conversations", e.Query, len(e.Matches))
}

// Resolve finds one conversation by full session id, unique id prefix, or
// the path of a transcript file. It returns *NotFoundError or
// *AmbiguousError when it cannot pick exactly one.
func Resolve(o Options, query string) (File, error) {
	query = strings.TrimSpace(query)
	if query == "" {
		return File{}, errors.New("empty session id")
	}
	if f, ok, err := resolvePath(o, query); ok || err != nil {
		return f, err
	}
	all := o
	all.Since = time.Time{}
	files, roots, err := Find(all)
	if err != nil {
		return File{}, err
	}
	q := strings.ToLower(query)
	var exact, prefix []File
	for _, f := range files {
		id := strings.ToLower(f.Session)
		switch {
		case id == q:
			exact = append(exact, f)
		case strings.HasPrefix(id, q):
			prefix = append(prefix, f)
		}
	}
	switch {
	case len(exact) == 1:
		return exact[0], nil
	case len(exact) > 1:
		return File{}, &AmbiguousError{Query: query, Matches: exact}
	case len(prefix) == 1:
		return prefix[0], nil
	case len(prefix) > 1:
		return File{}, &AmbiguousError{Query: query, Matches: prefix}
	}
	return File{}, &NotFoundError{Query: query, Roots: roots}
}

// resolvePath handles a query that names a file: ok is false when the query
// does not look like a path (and is then taken as an id).
func resolvePath(o Options, query string) (File, bool, error) {
	looksLikePath := strings.ContainsRune(query, os.PathSeparator) || strings.ContainsRune(query, '/') ||
		strings.HasSuffix(query, ".jsonl") || strings.HasSuffix(query, ".txt")
	fi, err := os.Stat(query)
	if err != nil {
		if looksLikePath {
			if errors.Is(err, fs.ErrNotExist) {
				return File{}, true, fmt.Errorf("no transcript at %s", query)
			}
			return File{}, true, fmt.Errorf("transcript %s: %w", query, err)
		}
		return File{}, false, nil
	}
	if fi.IsDir() {
		if looksLikePath {
			return File{}, true, fmt.Errorf("%s is a folder; give a transcript file (.jsonl) or a session id", query)
		}
		return File{}, false, nil
	}
	abs, err := filepath.Abs(query)
	if err != nil {
		return File{}, true, err
	}
	// the agent whose home holds it, else whose transcripts have its shape,
	// else Claude Code (plain .jsonl files, the kind a user copies)
	a := transcript.AgentForPath(abs, o.Homes)
	if a == nil {
		return File{}, true, fmt.Errorf("%s: no agent's transcript", query)
	}
	return File{Agent: a.Name(), Session: sessionOf(a, abs), Path: abs, Size: fi.Size(), ModTime: fi.ModTime()}, true, nil
}

// maxLine is transcript.MaxLine, a variable for tests.
var maxLine = transcript.MaxLine

// lineReader reads the complete lines of one file, one at a time, without
// their newline. A last line without a newline is returned too (a live
// transcript may be mid-write: the builder skips it if it is not complete
// JSON). Blank lines are skipped.
type lineReader struct {
	path string
	f    *os.File
	*transcript.LineReader
}

// openLines opens a regular file only: `show /dev/zero` or a FIFO named
// .jsonl must fail, not read forever or hang.
func openLines(path string) (*lineReader, error) {
	f, _, err := regular.Open(path)
	if err != nil {
		return nil, err
	}
	lr := transcript.NewLineReader(f, 0, false)
	lr.SetMax(maxLine)
	lr.ReadLast()
	return &lineReader{path: path, f: f, LineReader: lr}, nil
}

func (lr *lineReader) Close() error { return lr.f.Close() }

// eachLine calls fn with every line of the file at path until fn returns
// false. The slice is only valid during the call.
func eachLine(ctx context.Context, path string, fn func([]byte) bool) (skipped int64, err error) {
	lr, err := openLines(path)
	if err != nil {
		return 0, err
	}
	defer lr.Close()
	for n := 0; ; n++ {
		if n%1024 == 0 && ctx.Err() != nil {
			return lr.Skipped(), ctx.Err()
		}
		line, err := lr.Next()
		if err == io.EOF {
			return lr.Skipped(), nil
		}
		if err != nil {
			return lr.Skipped(), err
		}
		if !fn(line) {
			return lr.Skipped(), nil
		}
	}
}
