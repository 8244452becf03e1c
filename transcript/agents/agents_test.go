package agents_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/hooks"
	"github.com/weave-agentd/weave-agentd/hooks/hookconfig"
	"github.com/weave-agentd/weave-agentd/transcript"
	_ "github.com/weave-agentd/weave-agentd/transcript/agents"
)

func env(kv ...string) func(string) string {
	return func(k string) string {
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i] == k {
				return kv[i+1]
			}
		}
		return ""
	}
}

func TestHome(t *testing.T) {
	for _, tc := range []struct {
		agent string
		env   func(string) string
		want  string
	}{
		{genai.AgentClaudeCode, env(), "/home/u/.claude"},
		{genai.AgentClaudeCode, env("CLAUDE_CONFIG_DIR", "/etc/claude"), "/etc/claude"},
		{genai.AgentCursor, env(), "/home/u/.cursor"},
		{genai.AgentCursor, env("CLAUDE_CONFIG_DIR", "/etc/claude"), "/home/u/.cursor"},
		{genai.AgentCodex, env(), "/home/u/.codex"},
		{genai.AgentCodex, env("CODEX_HOME", "/srv/codex"), "/srv/codex"},
		{genai.AgentGeminiCLI, env(), "/home/u/.gemini"},
		{genai.AgentGeminiCLI, env("GEMINI_CLI_HOME", "/srv/g"), "/srv/g/.gemini"}, // Gemini CLI's home in place of the user's
	} {
		a, ok := transcript.AgentByName(tc.agent)
		if !ok {
			t.Fatalf("agent %s not registered", tc.agent)
		}
		if got := a.Home(tc.env, "/home/u"); got != tc.want {
			t.Errorf("%s home = %s, want %s", tc.agent, got, tc.want)
		}
	}
	// Every agent has a home in the user's home, and a session layout.
	for _, a := range transcript.Agents() {
		if h := a.Home(env(), "/home/u"); filepath.Dir(h) != "/home/u" {
			t.Errorf("%s: home %s is not in the user's home", a.Name(), h)
		}
		if l := a.Layout(); l.Root == "" || len(l.Sessions) == 0 {
			t.Errorf("%s: no session globs", a.Name())
		}
	}
}

// layout is a home of every agent as the agents write it (the layouts of
// the fixtures and of e2e/testdata): path → whether it is a session's main
// transcript.
var layout = map[string]bool{
	".claude/projects/-home-u-p/19a45a6d-0610-4a52-bc3b-c02716400aad.jsonl":                                       true,
	".claude/projects/-home-u-p/19a45a6d-0610-4a52-bc3b-c02716400aad/subagents/agent-a2b34b2e3f1f7c4bb.jsonl":     false,
	".claude/projects/-home-u-p/19a45a6d-0610-4a52-bc3b-c02716400aad/subagents/agent-a2b34b2e3f1f7c4bb.meta.json": false,
	".claude/projects/-home-u-p/agent-a2898e3.jsonl":                                                              false, // 2.0.x flat subagent file
	".claude/settings.json":                                                                             false,
	".cursor/projects/home-u-p/agent-transcripts/c1/c1.jsonl":                                           true, // 2026.10
	".cursor/projects/home-u-p/agent-transcripts/c1/subagents/s1.jsonl":                                 false,
	".cursor/projects/home-u-p/agent-transcripts/c2.jsonl":                                              true, // early CLI
	".cursor/projects/home-u-p/agent-transcripts/c3.txt":                                                true, // before Feb 2026
	".cursor/hooks.json":                                                                                false,
	".codex/sessions/2026/12/05/rollout-2026-12-05T14-02-16-01a24683-4125-7ba3-a084-cbf09dbbe106.jsonl": true,
	".codex/sessions/2026/12/05/notes.jsonl":                                                            false,
	".codex/hooks.json":                                                                                 false,
	".gemini/tmp/work-p/chats/session-2026-12-05T14-02-253ce1a9.jsonl":                                  true,
	".gemini/tmp/work-p/chats/session-2026-12-05T14-02-253ce1a9.json":                                   false, // before the JSONL files
	".gemini/tmp/work-p/.project_root":                                                                  false,
	".gemini/settings.json":                                                                             false,
}

// geminiHeader is the first line of a Gemini CLI chat file: the session id
// the file name holds only 8 characters of.
const geminiHeader = `{"sessionId":"253ce1a9-8a9c-4cfe-8ebd-f86b09cf40bd","projectHash":"b7","startTime":"2026-12-05T14:02:15.935Z","lastUpdated":"2026-12-05T14:02:15.935Z","kind":"main"}` + "\n"

// TestSessions: the globs and IsSession find exactly the main transcripts
// of every agent, each owned by its agent, with its session id.
func TestSessions(t *testing.T) {
	home := t.TempDir()
	var want []string
	for p, main := range layout {
		path := filepath.Join(home, p)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		body := "{}\n"
		if strings.HasSuffix(p, ".jsonl") && strings.HasPrefix(p, ".gemini/") {
			body = geminiHeader
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if main {
			want = append(want, path)
		}
	}
	homes := transcript.AgentHomes(env(), home)
	var got []string
	for _, a := range transcript.Agents() {
		l := a.Layout()
		for _, g := range l.Sessions {
			matches, err := filepath.Glob(filepath.Join(a.Home(env(), home), l.Root, g))
			if err != nil {
				t.Fatalf("%s: glob %s: %v", a.Name(), g, err)
			}
			for _, m := range matches {
				if !a.IsSession(m) {
					continue
				}
				got = append(got, m)
				if f := transcript.AgentForPath(m, homes); f.Name() != a.Name() {
					t.Errorf("%s belongs to %s, want %s", m, f.Name(), a.Name())
				}
			}
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("sessions found:\n%q\nwant:\n%q", got, want)
	}
	for _, tc := range []struct{ agent, path, session string }{
		{genai.AgentClaudeCode, ".claude/projects/-home-u-p/19a45a6d-0610-4a52-bc3b-c02716400aad.jsonl", "19a45a6d-0610-4a52-bc3b-c02716400aad"},
		{genai.AgentCursor, ".cursor/projects/home-u-p/agent-transcripts/c1/c1.jsonl", "c1"},
		{genai.AgentCursor, ".cursor/projects/home-u-p/agent-transcripts/c3.txt", "c3"},
		{genai.AgentCodex, ".codex/sessions/2026/12/05/rollout-2026-12-05T14-02-16-01a24683-4125-7ba3-a084-cbf09dbbe106.jsonl", "01a24683-4125-7ba3-a084-cbf09dbbe106"},
		{genai.AgentGeminiCLI, ".gemini/tmp/work-p/chats/session-2026-12-05T14-02-253ce1a9.jsonl", "253ce1a9-8a9c-4cfe-8ebd-f86b09cf40bd"},
	} {
		a, _ := transcript.AgentByName(tc.agent)
		if got := a.Session(filepath.Join(home, tc.path)); got != tc.session {
			t.Errorf("%s: session %q, want %q", tc.path, got, tc.session)
		}
	}
}

// TestForPath: outside the agents' homes a path goes to the agent whose
// layout it has, else to the first agent (Claude Code, as before agents
// were a registry).
func TestForPath(t *testing.T) {
	homes := transcript.AgentHomes(env("CLAUDE_CONFIG_DIR", "/srv/claude"), "/home/u")
	for _, tc := range []struct{ path, want string }{
		{"/srv/claude/projects/p/s.jsonl", genai.AgentClaudeCode},
		{"/home/u/.cursor/projects", genai.AgentCursor},
		{"/backup/.cursor/projects/p/agent-transcripts/c/c.jsonl", genai.AgentCursor},
		{"/tmp/copy/agent-transcripts/c.jsonl", genai.AgentCursor},
		{"/tmp/copy/projects/p/s.jsonl", genai.AgentClaudeCode},
		{"/home/u/.claude/projects/p/s.jsonl", genai.AgentClaudeCode}, // not the home, no other agent's layout
		{"/home/u/.codex/sessions/2026/12/05/rollout-2026-12-05T14-02-16-s.jsonl", genai.AgentCodex},
		{"/tmp/copy/rollout-2026-12-05T14-02-16-s.jsonl", genai.AgentCodex},
		{"/backup/gemini/chats/session-2026-12-05T14-02-253ce1a9.jsonl", genai.AgentGeminiCLI},
		{"/srv/u2/.gemini/tmp", genai.AgentGeminiCLI},
	} {
		if got := transcript.AgentForPath(tc.path, homes).Name(); got != tc.want {
			t.Errorf("transcript.AgentForPath(%s) = %s, want %s", tc.path, got, tc.want)
		}
	}
}

// TestHookConfig: hooks/hookconfig knows the hook-settings format each
// agent names, and keeps the settings in the agent's home.
func TestHookConfig(t *testing.T) {
	for _, a := range transcript.Agents() {
		if a.HookConfig().Name == "" {
			continue
		}
		home := a.Home(env(), "/home/u")
		if p, err := hookconfig.Path(a.HookConfig(), home, ""); err != nil || filepath.Dir(p) != home {
			t.Errorf("%s: hook settings %s (%v), not in its home %s", a.Name(), p, err, home)
		}
		if ev, err := hookconfig.Events(a.HookConfig(), hookconfig.Version{}); err != nil || len(ev) == 0 {
			t.Errorf("%s: no hook events (%v)", a.Name(), err)
		}
	}
}

// TestAgentNamed: the hook client's names (hooks.AgentClaude …) and what a
// user types find the agent; an agent with hooks is called by the hook
// client as its hook settings name it.
func TestAgentNamed(t *testing.T) {
	for in, want := range map[string]string{
		hooks.AgentClaude: genai.AgentClaudeCode, hooks.AgentCursor: genai.AgentCursor, hooks.AgentCodex: genai.AgentCodex,
		hooks.AgentGemini: genai.AgentGeminiCLI,
		"Claude-Code":     genai.AgentClaudeCode, "cc": genai.AgentClaudeCode, " cursor-agent ": genai.AgentCursor, "vim": "",
	} {
		a, ok := transcript.AgentNamed(in)
		if got := ""; ok {
			got = a.Name()
			if got != want {
				t.Errorf("AgentNamed(%q) = %s, want %s", in, got, want)
			}
		} else if want != "" {
			t.Errorf("AgentNamed(%q) found none, want %s", in, want)
		}
	}
	for _, a := range transcript.Agents() {
		if len(a.Aliases()) == 0 {
			t.Errorf("%s: no alias for the command line", a.Name())
		} else if h := a.HookConfig().Name; h != "" && h != a.Aliases()[0] {
			t.Errorf("%s: hook settings name it %s, its first alias is %s", a.Name(), h, a.Aliases()[0])
		}
	}
}
