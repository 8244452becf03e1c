package codexcli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/weave-agentd/weave-agentd/e2e/internal/clirun"
)

// HookEvents are the Codex events weave-agentd registers (DESIGN.md; never PermissionRequest).
var HookEvents = []string{"SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "PreCompact", "PostCompact", "Stop", "SessionEnd"}

// Model is the model name in the offline config: one Codex does not know, so
// it falls back to generic metadata and offers the plain exec_command tool (a
// catalog name switches it to another tool protocol).
const Model = "mock-model"

// apiKeyEnv is the provider's env_key; Codex sends its value as the bearer token.
const apiKeyEnv = "WEAVE_E2E_OPENAI_KEY"

// Options describe one `codex exec` run.
type Options struct {
	// Bin is the codex binary; empty means Install's result.
	Bin string
	// Home becomes HOME; CODEX_HOME is Home/.codex (config, hooks, sessions). Required.
	Home string
	// Cwd is the working directory (the project). Required.
	Cwd string
	// BaseURL is the Responses API base URL, e.g. http://127.0.0.1:PORT/v1. Required.
	BaseURL string
	// Prompt is the user's prompt.
	Prompt string
	// Resume continues a session: "last" runs `codex exec resume --last`,
	// anything else is a session id (`codex exec resume <id>`).
	Resume string
	// HookCommand, when set, is registered in CODEX_HOME/hooks.json for
	// HookEventsToRegister (default HookEvents). Codex runs it through the
	// shell: quote paths (ShellQuote).
	HookCommand          string
	HookEventsToRegister []string
	// Env are extra KEY=VALUE variables (they win over the defaults); Codex
	// passes them on to hooks and tools.
	Env []string
	// Timeout bounds the run (default 2 minutes; ctx also applies). Codex
	// retries a refused connection forever ("Reconnecting... waiting for
	// network") whatever the retry settings say, so this is the only bound.
	Timeout time.Duration
}

// CodexHome is CODEX_HOME for a home folder.
func CodexHome(home string) string { return filepath.Join(home, ".codex") }

// Result is the outcome of a run.
type Result struct {
	SessionID   string // thread.started's thread_id
	RolloutPath string // CODEX_HOME/sessions/YYYY/MM/DD/rollout-…-<SessionID>.jsonl ("" if not found)
	Stdout      []byte // --json event stream (JSONL)
	Stderr      []byte
	ExitCode    int
	Duration    time.Duration
	// Events are the decoded --json lines.
	Events []map[string]any
	// Messages are the texts of the agent_message items, in order.
	Messages []string
	// Errors are the messages of error items and error events (warnings included).
	Errors []string
	// Usage is turn.completed's usage (nil when the turn did not complete).
	Usage map[string]any
	Args  []string // the full argument list used
}

// Config is the offline config.toml (see ../shared/AGENTS.md): the stand-in
// provider, no retries, no update check, analytics, feedback or plugin sync
// (which would reach GitHub and ChatGPT), hooks on, never ask, full access.
func Config(baseURL string) string {
	return fmt.Sprintf(`# written by the weave-agentd e2e tests (codexcli)
model = %q
model_provider = "mock"
approval_policy = "never"
sandbox_mode = "danger-full-access"
check_for_update_on_startup = false

[model_providers.mock]
name = "weave-agentd e2e stand-in"
base_url = %q
env_key = %q
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
stream_idle_timeout_ms = 20000

[analytics]
enabled = false

[feedback]
enabled = false

[features]
hooks = true
plugins = false
`, Model, baseURL, apiKeyEnv)
}

// HooksJSON registers command for events in Codex's hooks.json shape.
func HooksJSON(command string, events []string) ([]byte, error) {
	hooks := map[string]any{}
	for _, ev := range events {
		group := map[string]any{"hooks": []any{map[string]any{"type": "command", "command": command, "timeout": 10}}}
		if ev == "PreToolUse" || ev == "PostToolUse" {
			group["matcher"] = "*"
		}
		hooks[ev] = []any{group}
	}
	return json.MarshalIndent(map[string]any{"hooks": hooks}, "", "  ")
}

// ShellQuote quotes s for a POSIX shell.
func ShellQuote(s string) string { return clirun.ShellQuote(s) }

// WriteConfig writes CODEX_HOME/config.toml and, when o.HookCommand is set, hooks.json.
func WriteConfig(o Options) error {
	dir := CodexHome(o.Home)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(Config(o.BaseURL)), 0o644); err != nil {
		return err
	}
	if o.HookCommand == "" {
		return nil
	}
	events := o.HookEventsToRegister
	if events == nil {
		events = HookEvents
	}
	b, err := HooksJSON(o.HookCommand, events)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "hooks.json"), b, 0o644)
}

// scrubbed are prefixes of variables never inherited from the test's own
// environment (real credentials, a developer's own Codex setup, an OTLP
// endpoint, proxies that would take 127.0.0.1 traffic elsewhere).
var scrubbed = []string{"OPENAI_", "CODEX_", "AZURE_OPENAI", "OTEL_", "RUST_LOG=", "HOME=", "XDG_", "HTTP_PROXY=", "HTTPS_PROXY=", "http_proxy=", "https_proxy=", "ALL_PROXY=", "all_proxy=", "NO_PROXY=", "no_proxy="}

func buildEnv(o Options) []string {
	env := append([]string{"HOME=" + o.Home, "CODEX_HOME=" + CodexHome(o.Home), apiKeyEnv + "=sk-weave-e2e-fake-key", "NO_COLOR=1"}, o.Env...)
	return clirun.Env(scrubbed, env...)
}

// FindRollout locates the session's rollout file under CODEX_HOME/sessions.
func FindRollout(home, session string) string {
	if session == "" {
		return ""
	}
	m, _ := filepath.Glob(filepath.Join(CodexHome(home), "sessions", "*", "*", "*", "rollout-*-"+session+".jsonl"))
	if len(m) == 0 {
		return ""
	}
	return m[0]
}

// Run runs `codex exec` once (stdin closed). A non-zero exit is reported in
// Result.ExitCode and as an error; Result is filled in either case.
func Run(ctx context.Context, o Options) (Result, error) {
	var res Result
	if o.Home == "" || o.Cwd == "" || o.BaseURL == "" {
		return res, errors.New("codexcli: Home, Cwd and BaseURL are required")
	}
	bin, err := clirun.Prepare(ctx, o.Bin, Install, o.Cwd)
	if err != nil {
		return res, err
	}
	if err := WriteConfig(o); err != nil {
		return res, err
	}
	args := []string{"exec", "--skip-git-repo-check", "--dangerously-bypass-hook-trust", "--json"}
	switch o.Resume {
	case "":
	case "last":
		args = append(args, "resume", "--last")
	default:
		args = append(args, "resume", o.Resume)
	}
	args = append(args, o.Prompt)
	res.Args = args

	timeout := o.Timeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	ran, err := clirun.Run(ctx, clirun.Cmd{Name: "codex", Path: bin, Args: args, Dir: o.Cwd, Env: buildEnv(o), Timeout: timeout})
	res.Stdout, res.Stderr, res.ExitCode, res.Duration = ran.Stdout, ran.Stderr, ran.ExitCode, ran.Duration
	res.decode()
	res.RolloutPath = FindRollout(o.Home, res.SessionID)
	return res, err
}

// decode reads the --json event stream.
func (r *Result) decode() {
	for _, line := range bytes.Split(r.Stdout, []byte("\n")) {
		var ev map[string]any
		if json.Unmarshal(line, &ev) != nil {
			continue
		}
		r.Events = append(r.Events, ev)
		switch ev["type"] {
		case "thread.started":
			r.SessionID, _ = ev["thread_id"].(string)
		case "turn.completed":
			r.Usage, _ = ev["usage"].(map[string]any)
		case "error", "turn.failed":
			r.Errors = append(r.Errors, fmt.Sprint(ev["message"], ev["error"]))
		case "item.completed":
			item, _ := ev["item"].(map[string]any)
			switch item["type"] {
			case "agent_message":
				s, _ := item["text"].(string)
				r.Messages = append(r.Messages, s)
			case "error":
				s, _ := item["message"].(string)
				r.Errors = append(r.Errors, s)
			}
		}
	}
}
