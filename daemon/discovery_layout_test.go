package daemon

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/config"
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
