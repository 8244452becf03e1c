package geminicli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/weave-agentd/weave-agentd/e2e/internal/clirun"
)

// DefaultModel is pinned in settings.json: without a pinned model the CLI
// asks a routing classifier (an extra model call) which model to use.
const DefaultModel = "gemini-2.5-flash"

// HookEvents are the Gemini CLI events weave-agentd registers (DESIGN.md):
// not AfterModel (once per streamed chunk) nor PreCompress (before every call).
var HookEvents = []string{"SessionStart", "BeforeAgent", "BeforeTool", "AfterTool", "AfterAgent", "SessionEnd"}

// Options describe one `gemini -p` run.
type Options struct {
	// Bin is bundle/gemini.js (run with node) or an executable; empty means Install's result.
	Bin string
	// Home becomes HOME (the CLI's state goes to Home/.gemini). Required.
	Home string
	// Cwd is the working directory (the project). Required.
	Cwd string
	// BaseURL is GOOGLE_GEMINI_BASE_URL (the stand-in API). Required.
	BaseURL string
	// Prompt is passed to -p.
	Prompt string
	// SessionID, when set, adds --session-id (a UUID) for a new session.
	SessionID string
	// Resume, when set, adds --resume <Resume>: "latest" or a session index.
	Resume string
	// Model is settings.json's model.name (default DefaultModel).
	Model string
	// Args are extra command-line arguments (after the defaults).
	Args []string
	// Env are extra KEY=VALUE variables for the CLI (they win over the defaults).
	Env []string
	// HookCommand, when set, is registered for HookEventsToRegister (default
	// HookEvents) as {"type":"command","command":HookCommand,"timeout":ms,"env":HookEnv}.
	// The CLI runs it with a shell: quote paths (Quote).
	HookCommand string
	// HookEnv is set in each hook's environment. Use it rather than Env for
	// what a hook needs: under GitHub Actions (GITHUB_SHA set) the CLI strips
	// every variable outside its allow-list from the hooks' environment.
	HookEnv map[string]string
	// HookEventsToRegister overrides HookEvents.
	HookEventsToRegister []string
	// HookTimeout is each hook's timeout (settings.json takes milliseconds; default 30 s).
	HookTimeout time.Duration
	// Settings are merged into settings.json's top level.
	Settings map[string]any
	// Timeout bounds the run (default 2 minutes; ctx also applies).
	Timeout time.Duration
}

// Result is the outcome of a run.
type Result struct {
	SessionID      string
	TranscriptPath string // Home/.gemini/tmp/<project>/chats/session-<time>-<id[:8]>.jsonl ("" if not found)
	Stdout, Stderr []byte
	ExitCode       int
	Duration       time.Duration
	// Output is the decoded --output-format json result.
	Output map[string]any
	// Response is Output["response"] (the final answer).
	Response string
	Args     []string // the full argument list used
}

// DefaultEnv is what every run gets besides HOME and GOOGLE_GEMINI_BASE_URL.
var DefaultEnv = []string{
	"GEMINI_API_KEY=weave-e2e-fake-gemini-key",
	// Headless runs in an untrusted folder exit 55.
	"GEMINI_CLI_TRUST_WORKSPACE=true",
	// The CLI otherwise starts itself again in a child node with a larger
	// heap: twice the start-up time for nothing here.
	"GEMINI_CLI_NO_RELAUNCH=true",
	"NO_COLOR=1",
}

// scrubbed are prefixes of variables never inherited from the test's
// environment: real credentials, endpoints, proxies, and GITHUB_SHA / SURFACE,
// which switch the CLI to strict environment sanitisation (runs must behave
// the same on a laptop and in GitHub Actions).
var scrubbed = []string{"GEMINI_", "GOOGLE_", "VERTEX_", "CLOUDSDK_", "OTEL_", "ANTHROPIC_", "CLAUDE", "HOME=", "XDG_",
	"HTTP_PROXY=", "HTTPS_PROXY=", "http_proxy=", "https_proxy=", "ALL_PROXY=", "all_proxy=", "GITHUB_SHA=", "SURFACE="}

func buildEnv(o Options) []string {
	env := slices.Concat(DefaultEnv, []string{"HOME=" + o.Home, "GOOGLE_GEMINI_BASE_URL=" + o.BaseURL}, o.Env)
	return clirun.Env(scrubbed, env...)
}

// Settings is the settings.json a run writes: API-key auth, the model
// pinned, auto-update, usage statistics, telemetry and IDE off, hooks.
func Settings(o Options) map[string]any {
	model := o.Model
	if model == "" {
		model = DefaultModel
	}
	s := map[string]any{
		"general":   map[string]any{"enableAutoUpdate": false, "enableAutoUpdateNotification": false},
		"privacy":   map[string]any{"usageStatisticsEnabled": false},
		"telemetry": map[string]any{"enabled": false},
		"ide":       map[string]any{"enabled": false},
		"security":  map[string]any{"auth": map[string]any{"selectedType": "gemini-api-key"}},
		"model":     map[string]any{"name": model},
	}
	if o.HookCommand != "" {
		timeout := o.HookTimeout
		if timeout == 0 {
			timeout = 30 * time.Second
		}
		handler := map[string]any{"name": "weave-e2e", "type": "command", "command": o.HookCommand, "timeout": timeout.Milliseconds()}
		if len(o.HookEnv) > 0 {
			handler["env"] = o.HookEnv
		}
		events := o.HookEventsToRegister
		if events == nil {
			events = HookEvents
		}
		hooks := map[string]any{}
		for _, ev := range events {
			group := map[string]any{"hooks": []any{handler}}
			if ev == "BeforeTool" || ev == "AfterTool" {
				group["matcher"] = "*"
			}
			hooks[ev] = []any{group}
		}
		s["hooksConfig"] = map[string]any{"enabled": true, "notifications": false}
		s["hooks"] = hooks
	}
	for k, v := range o.Settings {
		s[k] = v
	}
	return s
}

// WriteSettings writes Home/.gemini/settings.json for o.
func WriteSettings(o Options) error {
	b, err := json.MarshalIndent(Settings(o), "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Join(o.Home, ".gemini")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "settings.json"), b, 0o644)
}

// Quote quotes s for the POSIX shell the CLI runs hook commands with.
func Quote(s string) string { return clirun.ShellQuote(s) }

// FindTranscript locates the session file of a session under
// Home/.gemini/tmp/<project>/chats. A resume in another minute than the
// session's start leaves a stray file of the same id (a header and the
// session context): the largest file is the session's.
func FindTranscript(home, session string) string {
	if len(session) < 8 {
		return ""
	}
	matches, _ := filepath.Glob(filepath.Join(home, ".gemini", "tmp", "*", "chats", "session-*-"+session[:8]+".jsonl"))
	best, size := "", int64(-1)
	for _, m := range matches {
		if fi, err := os.Stat(m); err == nil && fi.Size() > size {
			best, size = m, fi.Size()
		}
	}
	return best
}

func nodePath(bin string) (string, error) {
	if !strings.HasSuffix(bin, ".js") {
		return "", nil
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return "", fmt.Errorf("node not found (Gemini CLI is a Node.js program): %w", err)
	}
	return node, nil
}

// Run runs `gemini -p` once. A non-zero exit is reported in Result.ExitCode
// and as an error (Result is filled in either case).
func Run(ctx context.Context, o Options) (Result, error) {
	var res Result
	if o.Home == "" || o.Cwd == "" || o.BaseURL == "" {
		return res, errors.New("geminicli: Home, Cwd and BaseURL are required")
	}
	bin, err := clirun.Prepare(ctx, o.Bin, Install, o.Home, o.Cwd)
	if err != nil {
		return res, err
	}
	if err := WriteSettings(o); err != nil {
		return res, err
	}
	args := []string{"-p", o.Prompt, "--output-format", "json", "--approval-mode", "yolo"}
	if o.SessionID != "" {
		args = append(args, "--session-id", o.SessionID)
	}
	if o.Resume != "" {
		args = append(args, "--resume", o.Resume)
	}
	args = append(args, o.Args...)
	res.Args = args

	timeout := o.Timeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	name, argv := bin, args
	node, err := nodePath(bin)
	if err != nil {
		return res, err
	}
	if node != "" {
		name, argv = node, append([]string{bin}, args...)
	}
	ran, err := clirun.Run(ctx, clirun.Cmd{Name: "gemini", Path: name, Args: argv, Dir: o.Cwd, Env: buildEnv(o), Timeout: timeout})
	res.Stdout, res.Stderr, res.ExitCode, res.Duration = ran.Stdout, ran.Stderr, ran.ExitCode, ran.Duration

	var out map[string]any
	if json.Unmarshal(bytes.TrimSpace(res.Stdout), &out) == nil {
		res.Output = out
		res.SessionID, _ = out["session_id"].(string)
		res.Response, _ = out["response"].(string)
	}
	if res.SessionID == "" {
		res.SessionID = o.SessionID
	}
	res.TranscriptPath = FindTranscript(o.Home, res.SessionID)
	return res, err
}
