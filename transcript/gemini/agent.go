// Package gemini rebuilds the spans of Google Gemini CLI sessions from its
// chat files (~/.gemini/tmp/<project>/chats/session-*.jsonl), with its
// hooks (settings.json) telling when a turn is over and when its tool calls
// ran.
package gemini

import (
	"bytes"
	"encoding/json"
	"io"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/hooks/hookconfig"
	"github.com/weave-agentd/weave-agentd/internal/regular"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// Agent is Gemini CLI: home $GEMINI_CLI_HOME/.gemini, else ~/.gemini
// (Gemini CLI's homedir() in packages/core/src/utils/paths.ts takes
// GEMINI_CLI_HOME in place of the user's home); chat files
// <home>/tmp/<project folder>/chats/session-<YYYY-MM-DDTHH-MM>-<first 8 of the session id>.jsonl,
// the project folder named in <home>/projects.json and by the
// .project_root file inside it.
type Agent struct{}

func init() { transcript.Register(Agent{}) }

func (Agent) Name() string { return genai.AgentGeminiCLI }

func (Agent) Title() string { return "Gemini CLI" }

func (Agent) Aliases() []string { return []string{"gemini"} }

func (Agent) Home(getenv func(string) string, userHome string) string {
	if h := getenv("GEMINI_CLI_HOME"); h != "" {
		return filepath.Join(h, ".gemini")
	}
	return filepath.Join(userHome, ".gemini")
}

func (Agent) Layout() transcript.Layout {
	return transcript.Layout{Root: "tmp", Sessions: []string{filepath.Join("*", "chats", "session-*.jsonl")}}
}

// IsSession: session-*.jsonl in a chats folder.
func (Agent) IsSession(path string) bool {
	name := filepath.Base(path)
	return strings.HasPrefix(name, "session-") && strings.HasSuffix(name, ".jsonl") &&
		filepath.Base(filepath.Dir(path)) == "chats"
}

// Owns: a chat file keeps its shape when copied elsewhere; a folder in a
// .gemini/tmp is Gemini CLI's wherever that home is.
func (a Agent) Owns(path string) bool {
	return a.IsSession(path) || strings.Contains(filepath.ToSlash(path)+"/", "/.gemini/tmp/")
}

// maxHeader is how much of a chat file Session reads for its header.
const maxHeader = 64 << 10

// Session is the sessionId of the file's header line (its name holds only
// the first 8 characters); "" while that line is not written whole (a file
// seen between its creation and its first write: the daemon looks again at
// its next change, rather than follow it under a made-up id); the file name
// without extension when the file cannot be read or starts otherwise.
func (Agent) Session(path string) string {
	stem := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	f, _, err := regular.Open(path)
	if err != nil {
		return stem
	}
	defer f.Close()
	head, err := io.ReadAll(io.LimitReader(f, maxHeader))
	if err != nil {
		return stem
	}
	line, _, complete := bytes.Cut(head, []byte("\n"))
	if !complete && len(head) < maxHeader {
		return ""
	}
	var h struct {
		SessionID string `json:"sessionId"`
	}
	if json.Unmarshal(line, &h) != nil || h.SessionID == "" {
		return stem
	}
	return h.SessionID
}

func (Agent) Discover() bool { return true }

func (Agent) NewBuilder(session string, o transcript.BuilderOptions) transcript.Builder {
	return New(session, Options{TranscriptPath: o.TranscriptPath, GeminiHome: o.Home,
		DropContent: o.DropContent, Redact: o.Redact, Logger: o.Logger})
}

func (Agent) HookConfig() hookconfig.Agent { return hookconfig.Gemini }

// Project is the working folder of the session whose chat file is at path:
// the .project_root file of its project folder, else that folder's name.
func (Agent) Project(path string) string {
	if p := projectRoot(path); p != "" {
		return p
	}
	if filepath.Base(filepath.Dir(path)) != "chats" {
		return ""
	}
	return filepath.Base(filepath.Dir(filepath.Dir(path)))
}

// projectRoot reads <project folder>/.project_root (the absolute path
// Gemini CLI wrote there for the folder's owner), "" when absent.
func projectRoot(chatFile string) string {
	if chatFile == "" || filepath.Base(filepath.Dir(chatFile)) != "chats" {
		return ""
	}
	b := readSmall(filepath.Join(filepath.Dir(filepath.Dir(chatFile)), ".project_root"), 4<<10)
	p := strings.TrimSpace(string(b))
	if !filepath.IsAbs(p) || strings.ContainsAny(p, "\n\x00") {
		return ""
	}
	return p
}

// vertexRE finds Vertex AI as the auth type in settings.json, which may
// hold comments (Gemini CLI accepts them): no JSON parse.
var vertexRE = regexp.MustCompile(`"selectedType"\s*:\s*"vertex-ai"`)

// settingsProvider is gen_ai.provider.name from Gemini CLI's settings:
// Vertex AI when security.auth.selectedType is vertex-ai, else the Gemini
// API.
func settingsProvider(home string) string {
	if home != "" && vertexRE.Match(readSmall(filepath.Join(home, "settings.json"), 1<<20)) {
		return genai.ProviderVertex
	}
	return genai.ProviderGemini
}

// readSmall reads at most max bytes of a regular file; nil on any error.
func readSmall(path string, max int64) []byte {
	f, _, err := regular.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max))
	if err != nil {
		return nil
	}
	return b
}
