package claudecli

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	fa "github.com/weave-agentd/weave-agentd/e2e/internal/fakeanthropic"
)

// env is one isolated Claude Code installation state (HOME), project and fake API.
type env struct {
	t    *testing.T
	api  *fa.Server
	hook *HookRecorder
	o    Options
	runs []Result
}

func newEnv(t *testing.T, script fa.Script) *env {
	t.Helper()
	bin := Require(t)
	home := t.TempDir()
	if real, err := filepath.EvalSymlinks(home); err == nil {
		home = real // macOS: /var → /private/var, as Claude Code records it
	}
	e := &env{t: t, api: fa.Start(t, script), hook: NewHookRecorder(t)}
	e.o = Options{Bin: bin, Home: home, Cwd: filepath.Join(home, "project"), BaseURL: e.api.URL()}
	e.hook.Apply(&e.o)
	return e
}

// run runs claude -p prompt (resuming session when non-empty) and requires success.
func (e *env) run(prompt, resume string) Result {
	e.t.Helper()
	o := e.o
	o.Prompt, o.Resume = prompt, resume
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := Run(ctx, o)
	e.runs = append(e.runs, res)
	if err != nil {
		e.t.Fatalf("run %q: %v", prompt, err)
	}
	if res.SessionID == "" || res.TranscriptPath == "" {
		e.t.Fatalf("run %q: no session/transcript: %+v\nstdout: %s", prompt, res, res.Stdout)
	}
	e.t.Logf("claude -p %q: %v, session %s", prompt, res.Duration.Round(time.Millisecond), res.SessionID)
	return res
}

func (e *env) events() []HookEvent {
	e.t.Helper()
	evs, err := e.hook.Events()
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}

// logEvents logs each hook event with its fields (the test log documents payloads).
func (e *env) logEvents(evs []HookEvent) {
	for _, ev := range evs {
		extra := ""
		if a := ev.Str("agent_id"); a != "" {
			extra = " agent_id=" + a
		}
		if tn := ev.Str("tool_name"); tn != "" {
			extra += " tool=" + tn
		}
		e.t.Logf("hook %-18s%s fields=%v", ev.Name, extra, ev.Keys())
	}
}

// record is one transcript line.
type record map[string]any

func (r record) str(k string) string { s, _ := r[k].(string); return s }

func (r record) msg() map[string]any { m, _ := r["message"].(map[string]any); return m }

// content returns message.content as blocks (string content becomes one text block).
func (r record) content() []map[string]any {
	m := r.msg()
	if m == nil {
		return nil
	}
	switch c := m["content"].(type) {
	case string:
		return []map[string]any{{"type": "text", "text": c}}
	case []any:
		var out []map[string]any
		for _, b := range c {
			if bm, ok := b.(map[string]any); ok {
				out = append(out, bm)
			}
		}
		return out
	}
	return nil
}

func readTranscript(t *testing.T, path string) []record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 16<<20), 16<<20)
	for sc.Scan() {
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: bad line: %v", path, err)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// blocks returns the content blocks of the given type in assistant/user records.
func blocks(recs []record, role, typ string) []map[string]any {
	var out []map[string]any
	for _, r := range recs {
		if r.str("type") != role {
			continue
		}
		for _, b := range r.content() {
			if b["type"] == typ {
				out = append(out, b)
			}
		}
	}
	return out
}

// messageIDs are the distinct assistant message ids in order.
func messageIDs(recs []record) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range recs {
		if r.str("type") != "assistant" {
			continue
		}
		id, _ := r.msg()["id"].(string)
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

func recordTypes(recs []record) []string {
	set := map[string]bool{}
	for _, r := range recs {
		k := r.str("type")
		if st := r.str("subtype"); st != "" {
			k += "/" + st
		}
		set[k] = true
	}
	var out []string
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// requireHooks checks that each named event fired at least once and carries the common fields.
func requireHooks(t *testing.T, evs []HookEvent, session string, names ...string) {
	t.Helper()
	for _, n := range names {
		if len(Filter(evs, n)) == 0 {
			t.Errorf("hook %s did not fire; got %v", n, Names(evs))
		}
	}
	for _, ev := range evs {
		for _, k := range []string{"session_id", "transcript_path", "cwd", "hook_event_name"} {
			if ev.Str(k) == "" {
				t.Errorf("%s payload lacks %s: %s", ev.Name, k, ev.Raw)
			}
		}
		if session != "" && ev.Str("session_id") != session {
			t.Errorf("%s session_id %s, want %s", ev.Name, ev.Str("session_id"), session)
		}
		if ev.Env["CLAUDE_PROJECT_DIR"] == "" {
			t.Errorf("%s: hook env lacks CLAUDE_PROJECT_DIR", ev.Name)
		}
		for k := range ev.Env {
			if strings.HasPrefix(k, "OTEL_") {
				t.Errorf("%s: hook env has %s", ev.Name, k)
			}
		}
	}
}
