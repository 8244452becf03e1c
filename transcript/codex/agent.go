package codex

import (
	"bytes"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/hooks/hookconfig"
	"github.com/weave-agentd/weave-agentd/internal/regular"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// Agent is Codex CLI: home $CODEX_HOME, else ~/.codex; transcripts
// <home>/sessions/YYYY/MM/DD/rollout-<timestamp>-<session id>.jsonl, one
// per session (a resumed session appends to its file).
type Agent struct{}

func init() { transcript.Register(Agent{}) }

var (
	_ transcript.Agent        = Agent{}
	_ transcript.CwdRecorder  = Agent{}
	_ transcript.SessionNamer = Agent{}
)

func (Agent) Name() string { return genai.AgentCodex }

func (Agent) Title() string { return "Codex CLI" }

func (Agent) Aliases() []string { return []string{"codex"} }

func (Agent) Home(getenv func(string) string, userHome string) string {
	if d := getenv("CODEX_HOME"); d != "" {
		return d
	}
	return filepath.Join(userHome, ".codex")
}

func (Agent) Layout() transcript.Layout {
	return transcript.Layout{Root: "sessions", Sessions: []string{filepath.Join("*", "*", "*", "rollout-*.jsonl")}}
}

func (Agent) IsSession(path string) bool { return isRollout(path) }

// Owns: a rollout-*.jsonl file, the name only Codex gives its transcripts.
func (Agent) Owns(path string) bool { return isRollout(path) }

func isRollout(path string) bool {
	name := filepath.Base(path)
	return strings.HasPrefix(name, "rollout-") && strings.HasSuffix(name, ".jsonl")
}

// Session is the uuid that ends the file name
// (rollout-2026-12-05T14-02-16-<uuid>.jsonl), else the session_meta id on
// the file's first line, else the file name.
func (Agent) Session(path string) string {
	if id := uuidSuffix(path); id != "" {
		return id
	}
	if id := firstMetaID(path); id != "" {
		return id
	}
	return strings.TrimSuffix(filepath.Base(path), ".jsonl")
}

// NamedSession is the uuid that ends a rollout's file name, "" when it
// ends with none. A subagent's rollout is named by its own thread id,
// never by the session that spawned it.
func (Agent) NamedSession(path string) string {
	if !isRollout(path) {
		return ""
	}
	return uuidSuffix(path)
}

// uuidSuffix is the uuid that ends a file's name (before .jsonl), or "".
func uuidSuffix(path string) string {
	stem := strings.TrimSuffix(filepath.Base(path), ".jsonl")
	if len(stem) >= 36 && transcript.LooksLikeUUID(stem[len(stem)-36:]) {
		return stem[len(stem)-36:]
	}
	return ""
}

// maxMetaLine bounds the first line read for its session id (a
// session_meta line holds the ~21 KB base instructions).
const maxMetaLine = 1 << 20

func firstMetaID(path string) string {
	f, _, err := regular.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	lr := transcript.NewLineReader(io.LimitReader(f, maxMetaLine+1), 0, false)
	lr.SetMax(maxMetaLine)
	lr.ReadLast()
	line, err := lr.Next()
	if err != nil {
		return ""
	}
	var r struct {
		Type    string `json:"type"`
		Payload struct {
			ID        string `json:"id"`
			SessionID string `json:"session_id"`
		} `json:"payload"`
	}
	if json.Unmarshal(line, &r) != nil || r.Type != "session_meta" {
		return ""
	}
	if r.Payload.ID != "" {
		return r.Payload.ID
	}
	return r.Payload.SessionID
}

// Cwd is the working directory a session_meta line records ("" for
// any other line), for the catalog.
func (Agent) Cwd(line []byte) string {
	if len(line) > transcript.MaxLine || !bytes.Contains(line[:min(len(line), 256)], []byte(`"session_meta"`)) {
		return ""
	}
	r, _, err := parseLine(line)
	if err != nil || r.Type != "session_meta" {
		return ""
	}
	return r.Payload.Cwd
}

// Discover: the rollout alone makes the spans.
func (Agent) Discover() bool { return true }

func (Agent) NewBuilder(session string, o transcript.BuilderOptions) transcript.Builder {
	return New(session, Options{TranscriptPath: o.TranscriptPath, DropContent: o.DropContent, Logger: o.Logger})
}

func (Agent) HookConfig() hookconfig.Agent { return hookconfig.Codex }
