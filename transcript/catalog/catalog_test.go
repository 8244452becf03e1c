package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/genai"
)

// claudeTranscript writes a small Claude Code transcript: one turn per
// prompt, each answered with a tool call, its result and a final text.
func claudeTranscript(session, cwd string, start time.Time, prompts ...string) string {
	var b strings.Builder
	ts := func(d time.Duration) string { return start.Add(d).UTC().Format("2006-01-02T15:04:05.000Z") }
	parent := "null"
	for i, p := range prompts {
		base := time.Duration(i) * time.Minute
		u := fmt.Sprintf("u%d-0000-0000-0000-000000000000", i)
		fmt.Fprintf(&b, `{"parentUuid":%s,"isSidechain":false,"promptId":"p%d","type":"user","message":{"role":"user","content":%q},"uuid":%q,"timestamp":%q,"cwd":%q,"sessionId":%q,"version":"2.1.400"}`+"\n",
			parent, i, p, u, ts(base), cwd, session)
		usage := `"usage":{"input_tokens":100,"cache_creation_input_tokens":10,"cache_read_input_tokens":1000,"output_tokens":20}`
		fmt.Fprintf(&b, `{"parentUuid":%q,"isSidechain":false,"message":{"content":[{"type":"tool_use","id":"toolu_%d","name":"Bash","input":{"command":"ls"}}],"id":"msg_a%d","model":"claude-x","role":"assistant","stop_reason":"tool_use","type":"message",%s},"type":"assistant","uuid":"a%d","timestamp":%q,"cwd":%q,"sessionId":%q}`+"\n",
			u, i, i, usage, i, ts(base+time.Second), cwd, session)
		fmt.Fprintf(&b, `{"parentUuid":"a%d","isSidechain":false,"type":"user","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_%d","content":"file.txt"}]},"uuid":"r%d","timestamp":%q,"cwd":%q,"sessionId":%q,"toolUseResult":{"stdout":"file.txt"}}`+"\n",
			i, i, i, ts(base+2*time.Second), cwd, session)
		fmt.Fprintf(&b, `{"parentUuid":"r%d","isSidechain":false,"message":{"content":[{"type":"text","text":"Done %d."}],"id":"msg_b%d","model":"claude-x","role":"assistant","stop_reason":"end_turn","type":"message",%s},"type":"assistant","uuid":"f%d","timestamp":%q,"cwd":%q,"sessionId":%q}`+"\n",
			i, i, i, usage, i, ts(base+3*time.Second), cwd, session)
		parent = fmt.Sprintf("%q", "f"+fmt.Sprint(i))
	}
	return b.String()
}

const (
	sessA = "aaaa1111-0000-4000-8000-000000000001" // two turns, /home/me/app
	sessB = "aaaa2222-0000-4000-8000-000000000002" // one turn, /home/me/other, old
	sessC = "bbbb3333-0000-4000-8000-000000000003" // in another project folder
)

type tree struct {
	home, claude, cursor string
	now                  time.Time
}

func write(t *testing.T, path, data string, mtime time.Time) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if !mtime.IsZero() {
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
}

// newTree lays out a HOME with Claude Code and Cursor conversations, and
// things that are not conversations.
func newTree(t *testing.T) tree {
	home := t.TempDir()
	now := time.Now()
	tr := tree{home: home, claude: filepath.Join(home, ".claude"), cursor: filepath.Join(home, ".cursor"), now: now}
	proj := filepath.Join(tr.claude, "projects", "-home-me-app")
	write(t, filepath.Join(proj, sessA+".jsonl"), claudeTranscript(sessA, "/home/me/app", now.Add(-2*time.Hour), "list the files", "again"), now.Add(-time.Hour))
	write(t, filepath.Join(proj, sessB+".jsonl"), claudeTranscript(sessB, "/home/me/other", now.Add(-10*24*time.Hour), "old one"), now.Add(-10*24*time.Hour))
	write(t, filepath.Join(proj, "agent-1234abcd.jsonl"), claudeTranscript(sessA, "/home/me/app", now, "a 2.0.x subagent"), now)
	write(t, filepath.Join(proj, sessA, "subagents", "agent-abc.jsonl"), "{}\n", now)
	write(t, filepath.Join(proj, "notes.txt"), "not a transcript", now)
	write(t, filepath.Join(tr.claude, "projects", "-home-me-dash-app", sessC+".jsonl"), claudeTranscript(sessC, "/home/me/dash-app", now.Add(-3*time.Hour), "hello"), now.Add(-3*time.Hour))

	at := filepath.Join(tr.cursor, "projects", "Users-me-web", "agent-transcripts")
	cursorJSONL := `{"role":"user","message":{"content":[{"type":"text","text":"<timestamp>Monday</timestamp>\n<user_query>\nfix it\n</user_query>"}]}}
{"role":"assistant","message":{"content":[{"type":"text","text":"Editing."},{"type":"tool_use","name":"Write","input":{"path":"a"}},{"type":"tool_use","name":"Shell","input":{"command":"make"}}]}}
{"type":"turn_ended","status":"aborted"}
`
	write(t, filepath.Join(at, "cccc0001", "cccc0001.jsonl"), cursorJSONL, now.Add(-30*time.Minute))
	write(t, filepath.Join(at, "cccc0001", "subagents", "s1.jsonl"), cursorJSONL, now)
	write(t, filepath.Join(at, "cccc0002.jsonl"), cursorJSONL, now.Add(-40*time.Minute))
	write(t, filepath.Join(at, "cccc0003.txt"), "user:\n<user_query>hi</user_query>\n\nassistant:\n[Tool call] Shell\n  command: ls\n", now.Add(-50*time.Minute))
	return tr
}

func (tr tree) opts() Options {
	return Options{Homes: map[string]string{genai.AgentClaudeCode: tr.claude, genai.AgentCursor: tr.cursor}}
}

func sessions(fs []File) []string {
	var ids []string
	for _, f := range fs {
		ids = append(ids, f.Session)
	}
	return ids
}

func TestFind(t *testing.T) {
	tr := newTree(t)
	for _, c := range []struct {
		name  string
		agent string
		since time.Duration
		want  []string
	}{
		{"all, newest first", "", 0, []string{"cccc0001", "cccc0002", "cccc0003", sessA, sessC, sessB}},
		{"claude", genai.AgentClaudeCode, 0, []string{sessA, sessC, sessB}},
		{"cursor", genai.AgentCursor, 0, []string{"cccc0001", "cccc0002", "cccc0003"}},
		{"since 2h", "", 2 * time.Hour, []string{"cccc0001", "cccc0002", "cccc0003", sessA}},
		{"claude since 7d", genai.AgentClaudeCode, 7 * 24 * time.Hour, []string{sessA, sessC}},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := tr.opts()
			o.Agent = c.agent
			if c.since > 0 {
				o.Since = tr.now.Add(-c.since)
			}
			files, roots, err := Find(o)
			if err != nil {
				t.Fatal(err)
			}
			if got := sessions(files); !slices.Equal(got, c.want) {
				t.Errorf("sessions = %v, want %v", got, c.want)
			}
			for _, r := range roots {
				if !r.Exists {
					t.Errorf("root %s reported missing", r.Dir)
				}
				want := map[string]int{genai.AgentClaudeCode: 3, genai.AgentCursor: 3}[r.Agent]
				if r.Conversations != want {
					t.Errorf("root %s: %d conversations, want %d (before --since)", r.Dir, r.Conversations, want)
				}
			}
		})
	}
}

func TestFindNoAgentDirs(t *testing.T) {
	home := t.TempDir()
	files, roots, err := Find(Options{Homes: map[string]string{genai.AgentClaudeCode: filepath.Join(home, ".claude"), genai.AgentCursor: filepath.Join(home, ".cursor")}})
	if err != nil || len(files) != 0 {
		t.Fatalf("Find = %v, %v", files, err)
	}
	if len(roots) != 2 || roots[0].Exists || roots[1].Exists || roots[0].Dir != filepath.Join(home, ".claude", "projects") {
		t.Errorf("roots = %+v", roots)
	}
	if _, roots, _ := Find(Options{}); len(roots) != 0 {
		t.Errorf("no homes configured: roots = %+v", roots)
	}
}

func TestResolve(t *testing.T) {
	tr := newTree(t)
	o := tr.opts()
	for _, c := range []struct {
		query string
		want  string // session, or "ambiguous:N" / "notfound" / "error:substring"
	}{
		{sessA, sessA},
		{strings.ToUpper(sessA[:8]) + "-0000", sessA},
		{"aaaa1", sessA},
		{"aaaa", "ambiguous:2"},
		{"cccc0", "ambiguous:3"},
		{"cccc0003", "cccc0003"},
		{"bbbb", sessC},
		{"zzzz", "notfound"},
		{filepath.Join(tr.claude, "projects", "-home-me-app", sessB+".jsonl"), sessB},
		{"/nonexistent/x.jsonl", "error:no transcript at /nonexistent/x.jsonl"},
		{tr.claude, "error:is a folder"},
		{"  ", "error:empty"},
	} {
		f, err := Resolve(o, c.query)
		var amb *AmbiguousError
		var nf *NotFoundError
		switch {
		case strings.HasPrefix(c.want, "ambiguous:"):
			if !errors.As(err, &amb) || fmt.Sprintf("ambiguous:%d", len(amb.Matches)) != c.want {
				t.Errorf("Resolve(%q) = %v, %v; want %s", c.query, f.Session, err, c.want)
			}
		case c.want == "notfound":
			if !errors.As(err, &nf) || len(nf.Roots) != 2 || nf.Roots[0].Conversations != 3 {
				t.Errorf("Resolve(%q) = %v, %v; want not found with roots", c.query, f.Session, err)
			}
		case strings.HasPrefix(c.want, "error:"):
			if err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(c.want, "error:")) {
				t.Errorf("Resolve(%q) error = %v, want %s", c.query, err, c.want)
			}
		default:
			if err != nil || f.Session != c.want {
				t.Errorf("Resolve(%q) = %q, %v; want %s", c.query, f.Session, err, c.want)
			}
		}
	}
}

// A transcript given by path whose name is not its session id (fixtures,
// copies) takes the session from its lines; one under agent-transcripts is
// Cursor's.
func TestResolvePathSession(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "copy.jsonl")
	write(t, p, `{"type":"queue-operation","operation":"enqueue"}`+"\n"+claudeTranscript(sessA, "/x", time.Now(), "hi"), time.Time{})
	f, err := Resolve(Options{}, p)
	if err != nil || f.Session != sessA || f.Agent != genai.AgentClaudeCode {
		t.Errorf("Resolve(copy) = %+v, %v", f, err)
	}
	tr := newTree(t)
	f, err = Resolve(tr.opts(), filepath.Join(tr.cursor, "projects", "Users-me-web", "agent-transcripts", "cccc0002.jsonl"))
	if err != nil || f.Session != "cccc0002" || f.Agent != genai.AgentCursor {
		t.Errorf("Resolve(cursor path) = %+v, %v", f, err)
	}
}

func TestSummarize(t *testing.T) {
	tr := newTree(t)
	o := tr.opts()
	files, _, _ := Find(o)
	sums := SummarizeAll(context.Background(), o, files)
	by := map[string]Summary{}
	for _, s := range sums {
		by[s.Session] = s
	}
	a := by[sessA]
	if a.Turns != 2 || a.ToolCalls != 2 || a.ModelCalls != 4 || a.Project != "/home/me/app" || a.Title != "list the files" ||
		a.Model != "claude-x" || a.Version != "2.1.400" || !a.Replayed || a.Error != "" {
		t.Errorf("summary A = %+v", a)
	}
	if a.Usage == nil || *a.Usage != (Usage{Input: 4 * 1110, Output: 80, CacheRead: 4000, CacheCreation: 40}) {
		t.Errorf("usage A = %+v", a.Usage)
	}
	if want := tr.now.Add(-2 * time.Hour).Truncate(time.Millisecond); !a.Started.Equal(want) {
		t.Errorf("started = %v, want %v", a.Started, want)
	}
	if !a.LastActivity.After(a.Started) {
		t.Errorf("last activity %v not after start %v", a.LastActivity, a.Started)
	}
	if c := by[sessC]; c.Project != "/home/me/dash-app" {
		t.Errorf("project C = %q (from the cwd, not the folder name)", c.Project)
	}
	cur := by["cccc0001"]
	if cur.Turns != 1 || cur.ToolCalls != 2 || cur.FailedTurns != 1 || cur.Usage != nil || cur.Replayed || cur.Project != "Users-me-web" {
		t.Errorf("cursor summary = %+v", cur)
	}
	if old := by["cccc0003"]; old.Turns != 1 || old.ToolCalls != 1 {
		t.Errorf("cursor .txt summary = %+v", old)
	}
	// By last activity (the transcript's last line), else the file time:
	// A's file is newer than C's, but its lines are older.
	write(t, by[sessC].Path, claudeTranscript(sessC, "/home/me/dash-app", tr.now.Add(-3*time.Hour), "hello"), tr.now)
	SortNewestFirst(sums)
	var claude []string
	for _, s := range sums {
		if s.Agent == genai.AgentClaudeCode {
			claude = append(claude, s.Session)
		}
	}
	if want := []string{sessA, sessC, sessB}; !slices.Equal(claude, want) {
		t.Errorf("newest first = %v, want %v", claude, want)
	}
}

func TestSummarizeUnreadable(t *testing.T) {
	sums := SummarizeAll(context.Background(), Options{}, []File{{Agent: genai.AgentClaudeCode, Session: sessA, Path: "/nonexistent.jsonl"}})
	if len(sums) != 1 || sums[0].Error == "" {
		t.Errorf("unreadable file: %+v", sums)
	}
}

func TestLoadCursorNotRenderable(t *testing.T) {
	tr := newTree(t)
	f, err := Resolve(tr.opts(), "cccc0001")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Load(context.Background(), tr.opts(), f); !errors.Is(err, ErrNotRenderable) {
		t.Errorf("Load(cursor) error = %v", err)
	}
}

// Summarize folds spans as they come; Load keeps them: both count the same.
func TestSummarizeMatchesLoad(t *testing.T) {
	tr := newTree(t)
	f, _ := Resolve(tr.opts(), sessC)
	spans, loaded, err := Load(context.Background(), tr.opts(), f)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Summarize(context.Background(), tr.opts(), f)
	if err != nil {
		t.Fatal(err)
	}
	if len(spans) != 4 { // the turn, two model calls, one tool call
		t.Errorf("%d spans, want 4", len(spans))
	}
	if s.Usage == nil || loaded.Usage == nil || *s.Usage != *loaded.Usage {
		t.Errorf("usage: Summarize %+v, Load %+v", s.Usage, loaded.Usage)
	}
	s.Usage, loaded.Usage = nil, nil
	if fmt.Sprint(s) != fmt.Sprint(loaded) {
		t.Errorf("Summarize = %+v\nLoad = %+v", s, loaded)
	}
}

func TestLineReader(t *testing.T) {
	defer func(n int) { maxLine = n }(maxLine)
	maxLine = 100
	p := filepath.Join(t.TempDir(), "t.jsonl")
	long := strings.Repeat("x", 300<<10) // longer than the reader's buffer too
	write(t, p, "one\r\n\n"+long+"\ntwo\n   \n"+strings.Repeat("y", 99)+"\nlast", time.Time{})
	var got []string
	skipped, err := eachLine(context.Background(), p, func(l []byte) bool {
		got = append(got, string(l))
		return true
	})
	if err != nil || skipped != 1 {
		t.Fatalf("skipped %d, err %v", skipped, err)
	}
	if want := []string{"one", "two", strings.Repeat("y", 99), "last"}; !slices.Equal(got, want) {
		t.Errorf("lines = %q", got)
	}
	n := 0
	_, _ = eachLine(context.Background(), p, func([]byte) bool { n++; return false })
	if n != 1 {
		t.Errorf("stopping early read %d lines", n)
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"7d":               now.Add(-7 * 24 * time.Hour),
		"24h":              now.Add(-24 * time.Hour),
		"90m":              now.Add(-90 * time.Minute),
		"2w":               now.Add(-14 * 24 * time.Hour),
		"1d12h":            now.Add(-36 * time.Hour),
		"1.5d":             now.Add(-36 * time.Hour),
		"0":                now,
		"2026-11-01":       time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		"2026-11-01T09:30": time.Date(2026, 11, 1, 9, 30, 0, 0, time.UTC),
	} {
		got, err := ParseSince(in, now, time.UTC)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseSince(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "d", "7x", "-3h", "yesterday", "7d-2h"} {
		if _, err := ParseSince(bad, now, time.UTC); err == nil {
			t.Errorf("ParseSince(%q) accepted", bad)
		}
	}
}

func TestAgentName(t *testing.T) {
	for in, want := range map[string]string{"claude": genai.AgentClaudeCode, "Claude-Code": genai.AgentClaudeCode, "cursor": genai.AgentCursor, "vim": ""} {
		if got, ok := AgentName(in); got != want || ok != (want != "") {
			t.Errorf("AgentName(%q) = %q, %v", in, got, ok)
		}
	}
}

// A slash command's title is the command line, whichever order Claude Code
// wrote the markup in (2.1.29 puts <command-message> first).
func TestTitleOfSlashCommand(t *testing.T) {
	for in, want := range map[string]string{
		"<command-message>superpowers:execute-plan</command-message>\n<command-name>/superpowers:execute-plan</command-name>\n<command-args>keep commits small</command-args>": "/superpowers:execute-plan keep commits small",
		"<command-name>/compact</command-name>\n            <command-message>compact</command-message>\n            <command-args></command-args>":                             "/compact",
		"fix the bug\nin main.go": "fix the bug",
	} {
		js, _ := json.Marshal([]genai.Message{{Role: "user", Parts: []genai.Part{{Type: "text", Content: in}}}})
		if got := title(string(js)); got != want {
			t.Errorf("title(%q) = %q, want %q", in, got, want)
		}
	}
}
