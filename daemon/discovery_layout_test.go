package daemon

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/config"
	"github.com/weave-agentd/weave-agentd/control"
	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/transcript"
	_ "github.com/weave-agentd/weave-agentd/transcript/agents"
)

// Discovery and backfill find the sessions of a root by its agent's layout
// (transcript.Agent), not by Claude Code's <project>/<session>.jsonl: here
// Cursor's deeper agent-transcripts/<id>/<id>.jsonl, its flat .txt, and not
// its subagents' files.
func TestDiscoveryFollowsTheAgentsLayout(t *testing.T) {
	srv := newFakeOTLP(t)
	home := t.TempDir()
	root := filepath.Join(home, ".cursor", "projects")
	write := func(rel, line string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		writeTranscript(t, p, line)
	}
	write("home-me-p/agent-transcripts/c1/c1.jsonl", "c1-line")
	write("home-me-p/agent-transcripts/c1/subagents/s1.jsonl", "subagent-line")
	write("home-me-p/agent-transcripts/c2.txt", "c2-line")
	td := startTestDaemon(t, home, config.Target{URL: srv.URL}, func(s *Settings) {
		s.Builders[genai.AgentCursor] = func(_, s, p string) transcript.Builder { return &lineBuilder{session: s, path: p} }
		s.Discover = []DiscoverRoot{{Agent: genai.AgentCursor, Dir: root}}
	})
	if res := td.flush(t, 5*time.Second); !res.Done {
		t.Fatalf("flush: %+v", res)
	}
	got := srv.accepted()
	if got["c1-line"] != 1 || got["c2-line"] != 1 || got["subagent-line"] != 0 {
		t.Fatalf("received %v", got)
	}
	// A session in a project folder that appears later.
	write("home-me-q/agent-transcripts/c3/c3.jsonl", "c3-line")
	td.flush(t, 5*time.Second)
	if got := srv.accepted(); got["c3-line"] != 1 {
		t.Fatalf("after a new project: %v", got)
	}
}

// A Gemini CLI chat file names 8 characters of its session id; the id is in
// its first line. Seen between its creation and that first write, it is
// not followed under a made-up id (which would trace it twice, once more
// under the real id): it is looked at again when it changes.
func TestDiscoveryWaitsForTheSessionID(t *testing.T) {
	srv := newFakeOTLP(t)
	home := t.TempDir()
	root := filepath.Join(home, ".gemini", "tmp")
	chat := filepath.Join(root, "work-p", "chats", "session-2026-12-05T14-02-253ce1a9.jsonl")
	if err := os.MkdirAll(filepath.Dir(chat), 0o700); err != nil {
		t.Fatal(err)
	}
	writeTranscript(t, chat) // created, nothing written yet
	sessions := map[string]bool{}
	var mu sync.Mutex
	td := startTestDaemon(t, home, config.Target{URL: srv.URL}, func(s *Settings) {
		s.Builders[genai.AgentGeminiCLI] = func(_, s, p string) transcript.Builder {
			mu.Lock()
			sessions[s] = true
			mu.Unlock()
			return &lineBuilder{session: s, path: p}
		}
		s.Discover = []DiscoverRoot{{Agent: genai.AgentGeminiCLI, Dir: root}}
	})
	td.flush(t, 5*time.Second)
	const header = `{"sessionId":"253ce1a9-8a9c-4cfe-8ebd-f86b09cf40bd","kind":"main"}`
	writeTranscript(t, chat, header, "line-1")
	deadline := time.Now().Add(5 * time.Second)
	for srv.accepted()["line-1"] == 0 && time.Now().Before(deadline) {
		td.flush(t, 5*time.Second)
		time.Sleep(20 * time.Millisecond)
	}
	if got := srv.accepted(); got["line-1"] != 1 || got[header] != 1 {
		t.Fatalf("received %v", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(sessions) != 1 || !sessions["253ce1a9-8a9c-4cfe-8ebd-f86b09cf40bd"] {
		t.Fatalf("sessions %v", sessions)
	}
}

// A project the user keeps out (.weave-agentd-ignore) is neither discovered
// nor backfilled, whichever way the agent's transcripts tell their working
// folder: a Gemini CLI chat file records none (its project folder's
// .project_root does: transcript.Projector), a Codex CLI rollout records it
// inside its session_meta's payload (transcript.CwdRecorder), not at the top
// level of a line as Claude Code does.
func TestExcludedProjectIsNotDiscovered(t *testing.T) {
	for _, tc := range []struct {
		agent string
		root  string // under the home
		// write puts a transcript of the project dir (named slug) under
		// root, whose last line is slug+"-line".
		write func(t *testing.T, root, slug, dir string)
	}{
		{genai.AgentGeminiCLI, ".gemini/tmp", func(t *testing.T, root, slug, dir string) {
			chat := filepath.Join(root, slug, "chats", "session-2026-12-05T14-02-"+slug[:4]+"0000.jsonl")
			if err := os.MkdirAll(filepath.Dir(chat), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, slug, ".project_root"), []byte(dir), 0o600); err != nil {
				t.Fatal(err)
			}
			writeTranscript(t, chat, `{"sessionId":"`+slug+`-session","kind":"main"}`, slug+"-line")
		}},
		{genai.AgentCodex, ".codex/sessions", func(t *testing.T, root, slug, dir string) {
			id := map[string]string{"private": "01a24683-4125-7ba3-a084-000000000001", "open": "01a24683-4125-7ba3-a084-000000000002"}[slug]
			rollout := filepath.Join(root, "2026", "12", "05", "rollout-2026-12-05T14-02-16-"+id+".jsonl")
			if err := os.MkdirAll(filepath.Dir(rollout), 0o700); err != nil {
				t.Fatal(err)
			}
			writeTranscript(t, rollout, `{"type":"session_meta","payload":{"id":"`+id+`","cwd":"`+dir+`"}}`, slug+"-line")
		}},
	} {
		t.Run(tc.agent, func(t *testing.T) {
			srv := newFakeOTLP(t)
			home := t.TempDir()
			root := filepath.Join(home, filepath.FromSlash(tc.root))
			private := filepath.Join(home, "private")
			if err := os.MkdirAll(private, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(private, ".weave-agentd-ignore"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			for slug, dir := range map[string]string{"private": private, "open": filepath.Join(home, "open")} {
				tc.write(t, root, slug, dir)
			}
			td := startTestDaemon(t, home, config.Target{URL: srv.URL}, func(s *Settings) {
				s.Builders[tc.agent] = func(_, s, p string) transcript.Builder { return &lineBuilder{session: s, path: p} }
				s.Discover = []DiscoverRoot{{Agent: tc.agent, Dir: root}}
			})
			td.flush(t, 5*time.Second)
			if got := srv.accepted(); got["open-line"] != 1 || got["private-line"] != 0 {
				t.Fatalf("discovered: %v", got)
			}
			if _, err := td.sess.Backfill(control.BackfillArgs{Paths: []string{root}}); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				p, _ := td.sess.BackfillProgress()
				if p.Done {
					if p.Files != 2 || p.Error != "" {
						t.Fatalf("backfill: %+v", p)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("backfill not done: %+v", p)
				}
			}
			td.flush(t, 5*time.Second)
			if got := srv.accepted(); got["private-line"] != 0 {
				t.Fatalf("backfilled: %v", got)
			}
		})
	}
}
