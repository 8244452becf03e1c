// Package crash is the crash-test harness: it replays real Claude Code
// sessions (transcripts written line by line in chunks under a temporary
// HOME/.claude/projects, plus their hook payloads through the real hook
// binary) on a seeded schedule, so that one clean run and one run with the
// daemon killed at random points can be compared span for span.
package crash

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// HomePlaceholder stands for the temporary HOME in paths of the corpus; the
// feeder replaces it with the real one.
const HomePlaceholder = "/home/user"

// Line is one transcript line of a session, in the order it is written.
type Line struct {
	File string // path relative to HOME
	Data []byte // without the newline
}

// Hook is one hook payload, to be sent after the first At lines of the
// session's merged line order were written.
type Hook struct {
	Name    string
	Payload []byte // may contain HomePlaceholder
	At      int
}

// Session is one conversation: its lines (all files merged in write order)
// and its hooks.
type Session struct {
	Name  string // for logs
	ID    string
	Lines []Line
	Hooks []Hook
	Extra map[string][]byte // files written before the first line (e.g. subagent .meta.json), rel to HOME
	Bytes int64
}

// Repo-relative corpus locations.
const (
	scenarioDir = "e2e/testdata/claude-2.1.328"
)

// ScenarioSessions loads the captured Claude Code 2.1.328 scenarios (real
// transcripts and the hook payloads Claude Code sent, in order).
func ScenarioSessions(repoRoot string) ([]*Session, error) {
	root := filepath.Join(repoRoot, scenarioDir)
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	var out []*Session
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		s, err := loadScenario(filepath.Join(root, e.Name()), e.Name())
		if err != nil {
			return nil, fmt.Errorf("scenario %s: %w", e.Name(), err)
		}
		out = append(out, s)
	}
	return out, nil
}

func loadScenario(dir, name string) (*Session, error) {
	proj := filepath.Join(dir, "projects")
	var mains []string
	files := map[string][]byte{}
	err := filepath.Walk(proj, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(proj, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files[rel] = b
		if strings.HasSuffix(rel, ".jsonl") && !strings.Contains(rel, "subagents") {
			mains = append(mains, rel)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(mains) != 1 {
		return nil, fmt.Errorf("want one main transcript, got %v", mains)
	}
	id := strings.TrimSuffix(filepath.Base(mains[0]), ".jsonl")
	s := &Session{Name: "claude-2.1.328/" + name, ID: id, Extra: map[string][]byte{}}
	var srcs []source
	for rel, b := range files {
		dst := filepath.Join(".claude", "projects", rel)
		switch {
		case strings.HasSuffix(rel, ".jsonl"):
			srcs = append(srcs, source{file: dst, data: b, main: rel == mains[0]})
		default:
			s.Extra[dst] = b
		}
	}
	s.Lines = mergeByTime(srcs)
	hb, err := os.ReadFile(filepath.Join(dir, "hooks.jsonl"))
	if err != nil {
		return nil, err
	}
	for _, l := range bytes.Split(hb, []byte("\n")) {
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		var c struct {
			Name string `json:"hook_event_name"`
		}
		if err := json.Unmarshal(l, &c); err != nil {
			return nil, err
		}
		s.Hooks = append(s.Hooks, Hook{Name: c.Name, Payload: append([]byte(nil), l...)})
	}
	place(s)
	return s, nil
}

// FixtureSpec names one transcript of ../shared/fixtures/claude-code.
type FixtureSpec struct {
	Path      string   // relative to fixtures/claude-code
	Subagents string   // folder with agent-*.jsonl, relative to fixtures/claude-code ("" if none)
	Hooks     []string // hook payload files, relative to fixtures/claude-code, in order
}

// ShortFixtures are the small real transcripts (a few hundred KB together).
var ShortFixtures = []FixtureSpec{
	{Path: "forgelore-hooks-v2.1.289-291/2.1.291/transcript.jsonl", Hooks: []string{
		"forgelore-hooks-v2.1.289-291/2.1.291/SessionStart-1.json",
		"forgelore-hooks-v2.1.289-291/2.1.291/PostToolUseFailure-1.json",
		"forgelore-hooks-v2.1.289-291/2.1.291/PostToolUse-1.json",
		"forgelore-hooks-v2.1.289-291/2.1.291/SessionEnd-1.json",
	}},
	{Path: "spotter-v2.1.38-39/short.jsonl"},
	{Path: "spotter-v2.1.38-39/tool_heavy.jsonl"},
}

// LongFixtures are every other real transcript (about 8 MB together).
var LongFixtures = []FixtureSpec{
	{Path: "spotter-v2.1.38-39/subagent.jsonl"},
	{Path: "spotter-v2.1.38-39/4d5611e5-241a-462a-8d15-5122611a9569.jsonl",
		Subagents: "spotter-v2.1.38-39/4d5611e5-241a-462a-8d15-5122611a9569/subagents"},
	{Path: "entire-checkpoints-v2.1.29-32/26-dcd5518fea-0-full.jsonl"},
	{Path: "entire-checkpoints-v2.1.29-32/ad-a8171575ce-0-full.jsonl"},
	{Path: "claude-code-viewer-v1.0.98/fe5e1c67-53e7-4862-81ae-d0e013e3270b.jsonl"},
}

// FixtureSessions loads real transcripts from fixtures/claude-code. Each is
// written to .claude/projects/-fixture-N/<sessionId>.jsonl (discovery names
// sessions by file name); hook payloads get their transcript_path pointed there.
func FixtureSessions(fixtures string, specs []FixtureSpec) ([]*Session, error) {
	var out []*Session
	for i, sp := range specs {
		b, err := os.ReadFile(filepath.Join(fixtures, "claude-code", sp.Path))
		if err != nil {
			return nil, err
		}
		id := firstSessionID(b)
		if id == "" {
			return nil, fmt.Errorf("%s: no sessionId", sp.Path)
		}
		projRel := filepath.Join(".claude", "projects", fmt.Sprintf("-fixture-%d", i))
		main := filepath.Join(projRel, id+".jsonl")
		srcs := []source{{file: main, data: b, main: true}}
		if sp.Subagents != "" {
			dir := filepath.Join(fixtures, "claude-code", sp.Subagents)
			ents, err := os.ReadDir(dir)
			if err != nil {
				return nil, err
			}
			for _, e := range ents {
				sb, err := os.ReadFile(filepath.Join(dir, e.Name()))
				if err != nil {
					return nil, err
				}
				srcs = append(srcs, source{file: filepath.Join(projRel, id, "subagents", e.Name()), data: sb})
			}
		}
		s := &Session{Name: "fixtures/" + sp.Path, ID: id, Lines: mergeByTime(srcs), Extra: map[string][]byte{}}
		for _, h := range sp.Hooks {
			hb, err := os.ReadFile(filepath.Join(fixtures, "claude-code", h))
			if err != nil {
				return nil, err
			}
			var m map[string]any
			if err := json.Unmarshal(hb, &m); err != nil {
				return nil, err
			}
			m["transcript_path"] = filepath.Join(HomePlaceholder, main)
			nb, _ := json.Marshal(m)
			name, _ := m["hook_event_name"].(string)
			s.Hooks = append(s.Hooks, Hook{Name: name, Payload: nb})
		}
		place(s)
		out = append(out, s)
	}
	return out, nil
}

func firstSessionID(b []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var r struct {
			SessionID string `json:"sessionId"`
		}
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.SessionID != "" && r.SessionID != "<string>" {
			return r.SessionID
		}
	}
	return ""
}

type source struct {
	file string
	data []byte
	main bool
}

// mergeByTime interleaves the lines of a session's files the way they were
// written: each file keeps its own order; between files, the line with the
// earliest timestamp (running maximum within its file) goes first.
func mergeByTime(srcs []source) []Line {
	sort.SliceStable(srcs, func(i, j int) bool { return srcs[i].main && !srcs[j].main })
	type cursor struct {
		file  string
		lines [][]byte
		times []time.Time
		i     int
	}
	var cs []*cursor
	for _, s := range srcs {
		c := &cursor{file: s.file}
		var last time.Time
		for _, l := range bytes.Split(s.data, []byte("\n")) {
			if len(bytes.TrimSpace(l)) == 0 {
				continue
			}
			var r struct {
				Timestamp string `json:"timestamp"`
			}
			if json.Unmarshal(l, &r) == nil {
				if ts, err := time.Parse(time.RFC3339Nano, r.Timestamp); err == nil && ts.After(last) {
					last = ts
				}
			}
			c.lines = append(c.lines, l)
			c.times = append(c.times, last)
		}
		cs = append(cs, c)
	}
	var out []Line
	for {
		var best *cursor
		for _, c := range cs {
			if c.i >= len(c.lines) {
				continue
			}
			if best == nil || c.times[c.i].Before(best.times[best.i]) {
				best = c
			}
		}
		if best == nil {
			return out
		}
		out = append(out, Line{File: best.file, Data: best.lines[best.i]})
		best.i++
	}
}

// place decides after how many lines each hook is sent: tool hooks after the
// assistant line naming their tool_use_id, UserPromptSubmit after the user
// line with its prompt id, turn-ending hooks just before the next prompt (or
// at the end), SubagentStop after its subagent file; never before the hook
// before it.
func place(s *Session) {
	first := func(sub string) int {
		if sub == "" {
			return -1
		}
		for i, l := range s.Lines {
			if bytes.Contains(l.Data, []byte(sub)) {
				return i + 1
			}
		}
		return -1
	}
	lastOfFile := func(part string) int {
		at := -1
		for i, l := range s.Lines {
			if strings.Contains(l.File, part) {
				at = i + 1
			}
		}
		return at
	}
	type fields struct {
		PromptID  string `json:"prompt_id"`
		ToolUseID string `json:"tool_use_id"`
		AgentID   string `json:"agent_id"`
	}
	fs := make([]fields, len(s.Hooks))
	for i, h := range s.Hooks {
		_ = json.Unmarshal(h.Payload, &fs[i])
	}
	prev := 0
	for i := range s.Hooks {
		h := &s.Hooks[i]
		at := -1
		switch h.Name {
		case "UserPromptSubmit":
			at = first(fs[i].PromptID)
		case "PreToolUse", "PostToolUse", "PostToolUseFailure":
			at = first(fs[i].ToolUseID)
		case "SubagentStop":
			at = lastOfFile("agent-" + fs[i].AgentID)
		case "Stop", "StopFailure", "SessionEnd":
			at = len(s.Lines)
			for j := i + 1; j < len(s.Hooks); j++ {
				if s.Hooks[j].Name == "UserPromptSubmit" && fs[j].PromptID != fs[i].PromptID {
					if n := first(fs[j].PromptID); n > 0 {
						at = n - 1
					}
					break
				}
			}
		}
		h.At = max(at, prev)
		prev = h.At
	}
	for _, l := range s.Lines {
		s.Bytes += int64(len(l.Data) + 1)
	}
}
