package claude

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/hooks/hookconfig"
	"github.com/weave-agentd/weave-agentd/internal/regular"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// Agent is Claude Code: home $CLAUDE_CONFIG_DIR, else ~/.claude;
// transcripts <home>/projects/<project folder>/<session>.jsonl. A session's
// subagents write <session>/subagents/agent-*.jsonl (the flat agent-*.jsonl
// beside the sessions in 2.0.x): its builder finds them.
type Agent struct{}

func init() { transcript.Register(Agent{}) }

var (
	_ transcript.Agent       = Agent{}
	_ transcript.CwdRecorder = Agent{}
)

func (Agent) Name() string { return genai.AgentClaudeCode }

func (Agent) Title() string { return "Claude Code" }

func (Agent) Aliases() []string { return []string{"claude", "claudecode", "cc"} }

func (Agent) Home(getenv func(string) string, userHome string) string {
	if d := getenv("CLAUDE_CONFIG_DIR"); d != "" {
		return d
	}
	return filepath.Join(userHome, ".claude")
}

func (Agent) Layout() transcript.Layout {
	return transcript.Layout{Root: "projects", Sessions: []string{filepath.Join("*", "*.jsonl")}}
}

func (Agent) IsSession(path string) bool {
	name := filepath.Base(path)
	return strings.HasSuffix(name, ".jsonl") && !strings.HasPrefix(name, "agent-") &&
		filepath.Base(filepath.Dir(path)) != "subagents"
}

// Owns: any transcript not claimed by another agent is Claude Code's.
func (Agent) Owns(string) bool { return false }

// Session is the file name when it is a session id (Claude Code names its
// transcripts <session>.jsonl), else the first sessionId recorded in the
// file (a copy or a fixture named otherwise), else the file name.
func (Agent) Session(path string) string {
	stem := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	if transcript.LooksLikeUUID(stem) {
		return stem
	}
	if id := firstSessionID(path); id != "" {
		return id
	}
	return stem
}

// sessionIDLines bounds the lines read for a session id (the first lines
// of a transcript may be summaries and snapshots, which record none).
const sessionIDLines = 2000

func firstSessionID(path string) string {
	f, _, err := regular.Open(path) // not a FIFO or a device: it would never end
	if err != nil {
		return ""
	}
	defer f.Close()
	lr := transcript.NewLineReader(f, 0, false)
	lr.SetMax(transcript.MaxLine)
	lr.ReadLast()
	for range sessionIDLines {
		line, err := lr.Next()
		if err != nil {
			return ""
		}
		if id := jsonStringAfter(line, `"sessionId":"`); id != "" {
			return id
		}
	}
	return ""
}

// Cwd is the working directory a line records ("cwd"), for the catalog.
func (Agent) Cwd(line []byte) string { return jsonStringAfter(line, `"cwd":"`) }

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

func (Agent) Discover() bool { return true }

func (Agent) NewBuilder(session string, o transcript.BuilderOptions) transcript.Builder {
	return New(session, Options{TranscriptPath: o.TranscriptPath, ClaudeHome: o.Home,
		DropContent: o.DropContent, Redact: o.Redact, Logger: o.Logger})
}

func (Agent) HookConfig() hookconfig.Agent { return hookconfig.Claude }
