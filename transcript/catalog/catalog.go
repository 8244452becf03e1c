// Package catalog finds the conversations coding agents left on disk and
// summarises them: Claude Code transcripts under
// $CLAUDE_CONFIG_DIR/projects or ~/.claude/projects/<project>/<session>.jsonl,
// and Cursor's ~/.cursor/projects/<slug>/agent-transcripts.
//
// Listing is cheap: Find only reads folders and stats files, which is enough
// to filter by age (a transcript's modification time is its last activity).
// Summarize and Load replay one conversation through the agent's span
// builder (the same code the daemon runs), streaming the file line by line:
// Summarize keeps only counters, so its memory does not grow with the file;
// Load keeps the spans, for rendering one conversation.
//
// Each registered agent (transcript.Agent) is a source, listed by its
// layout and replayed by its builder; claudeSource and cursorSource add what
// the catalog reads from those agents' lines.
package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/weave-agentd/weave-agentd/internal/regular"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/transcript"
	_ "github.com/weave-agentd/weave-agentd/transcript/agents" // every agent
)

// Options says where the agents keep their transcripts and which ones to
// consider.
type Options struct {
	// ClaudeHome is Claude Code's config dir ($CLAUDE_CONFIG_DIR, else
	// ~/.claude). Empty: Claude Code is not searched.
	ClaudeHome string
	// CursorHome is Cursor's config dir (~/.cursor). Empty: Cursor is not
	// searched.
	CursorHome string
	// Homes are the agents' homes by name (transcript.AgentHomes), for the
	// agents without a field above, and for them when it is empty.
	Homes map[string]string
	// Agent keeps only one agent's conversations (genai.AgentClaudeCode or
	// genai.AgentCursor); empty means all.
	Agent string
	// Since skips conversations whose transcript was last modified before it.
	Since time.Time
}

// File is one conversation's main transcript, as found on disk (no content
// read).
type File struct {
	Agent   string    `json:"agent"`   // genai.AgentClaudeCode or genai.AgentCursor
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

// source is one agent's conversations on disk: the agent (its layout and
// builder) and what the catalog reads from its lines.
type source struct {
	agent transcript.Agent
	// home is the agent's home folder from the options ("" when not
	// configured: the agent is not searched).
	home func(Options) string
	// owns reports whether a transcript path given by the user belongs to
	// this agent (Resolve of a path).
	owns func(o Options, path string) bool
	// session returns the session id of a transcript given by path, whose
	// file name may not be it.
	session func(path string) string
	// renderable: a transcript alone rebuilds the agent's spans (its
	// builder replays it). Else its conversations are listed (and counted
	// by scan) but cannot be rendered.
	renderable bool
	// scan, for agents that are not renderable, counts turns and tool
	// calls from one transcript line.
	scan func(line []byte, s *Summary)
	// project returns the working directory recorded on a transcript line,
	// or "" (the first one found is the conversation's project).
	project func(line []byte) string
	// projectOf guesses the project when no line records it.
	projectOf func(f File) string
}

func (s source) name() string { return s.agent.Name() }

// root is the folder listed, "" when the agent's home is not configured.
func (s source) root(o Options) string {
	h := s.home(o)
	if h == "" {
		return ""
	}
	return filepath.Join(h, s.agent.Layout().Root)
}

// builder makes the span builder that replays a file.
func (s source) builder(o Options, f File) transcript.Builder {
	return s.agent.NewBuilder(f.Session, transcript.BuilderOptions{TranscriptPath: f.Path, Home: s.home(o),
		Logger: slog.New(slog.DiscardHandler)})
}

// list calls fn for each main transcript under root, found by the agent's
// layout.
func (s source) list(root string, fn func(File)) {
	seen := map[string]bool{}
	for _, g := range s.agent.Layout().Sessions {
		for _, path := range transcript.Glob(root, g) {
			if seen[path] || !s.agent.IsSession(path) {
				continue
			}
			seen[path] = true
			fi, err := os.Stat(path) // follows a symlinked transcript
			if err != nil || !fi.Mode().IsRegular() {
				continue
			}
			fn(File{Agent: s.name(), Session: s.agent.Session(path), Path: path, Size: fi.Size(), ModTime: fi.ModTime()})
		}
	}
}

// sources lists the supported agents, in the order they are searched.
func sources() []source {
	var out []source
	for _, a := range transcript.Agents() {
		if s, ok := known[a.Name()]; ok {
			out = append(out, s())
		} else {
			out = append(out, plainSource(a))
		}
	}
	return out
}

// known are the agents the catalog knows more of than their
// transcript.Agent (a cheaper session id, a project from the lines, a
// scan of transcripts that cannot be replayed).
var known = map[string]func() source{
	genai.AgentClaudeCode: claudeSource,
	genai.AgentCursor:     cursorSource,
}

// plainSource is an agent the catalog knows only by its transcript.Agent:
// listed by its layout, replayed when its transcripts alone make spans, its
// project read from its lines when it is a transcript.Projecter.
func plainSource(a transcript.Agent) source {
	s := source{
		agent:      a,
		home:       func(o Options) string { return o.Homes[a.Name()] },
		owns:       func(_ Options, path string) bool { return a.Owns(path) },
		session:    a.Session,
		renderable: a.Discover(),
	}
	if p, ok := a.(transcript.Projecter); ok {
		s.project = p.Project
	}
	return s
}

func sourceFor(agent string) (source, bool) {
	for _, s := range sources() {
		if s.name() == agent {
			return s, true
		}
	}
	return source{}, false
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
	for _, src := range sources() {
		if o.Agent != "" && o.Agent != src.name() {
			continue
		}
		dir := src.root(o)
		if dir == "" {
			continue
		}
		r := Root{Agent: src.name(), Dir: dir}
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			r.Exists = true
			src.list(dir, func(f File) {
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
	src := claudeSource() // the fallback: any .jsonl no other agent claims
	for _, s := range sources() {
		if s.name() != src.name() && s.owns != nil && s.owns(o, abs) {
			src = s
			break
		}
	}
	return File{Agent: src.name(), Session: src.session(abs), Path: abs, Size: fi.Size(), ModTime: fi.ModTime()}, true, nil
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

// jsonStringAfter returns the JSON string value that follows key (for
// example `"cwd":"`) in line, decoded, or "" when absent.
func jsonStringAfter(line []byte, key string) string {
	i := bytes.Index(line, []byte(key))
	if i < 0 {
		return ""
	}
	start := i + len(key) - 1 // the opening quote
	if start < 0 || start >= len(line) || line[start] != '"' {
		return ""
	}
	for j := start + 1; j < len(line); j++ {
		switch line[j] {
		case '\\':
			j++
		case '"':
			var s string
			if json.Unmarshal(line[start:j+1], &s) != nil {
				return ""
			}
			return s
		}
	}
	return ""
}
