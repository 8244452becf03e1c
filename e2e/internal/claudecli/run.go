package claudecli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"time"

	"github.com/weave-agentd/weave-agentd/e2e/internal/clirun"
)

// HookEvents are the Claude Code events weave-agentd registers (DESIGN.md).
var HookEvents = []string{
	"SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "PostToolUseFailure",
	"Stop", "StopFailure", "SubagentStart", "SubagentStop", "PreCompact", "SessionEnd", "Notification",
}

// Options describe one `claude -p` run.
type Options struct {
	// Bin is the claude binary; empty means Install's result.
	Bin string
	// Home becomes HOME (Claude Code's state goes to Home/.claude and Home/.claude.json). Required.
	Home string
	// Cwd is the working directory (the project). Required.
	Cwd string
	// BaseURL is ANTHROPIC_BASE_URL (the fake API). Required.
	BaseURL string
	// Prompt is passed to -p. "/compact" compacts the resumed session.
	Prompt string
	// Resume, when set, adds --resume <Resume> (a session id).
	Resume string
	// Args are extra command-line arguments (after the defaults).
	Args []string
	// Env are extra KEY=VALUE variables (they win over the defaults).
	Env []string
	// HookCommand, when set, is registered in Home/.claude/settings.json for
	// HookEventsToRegister (default HookEvents) as {"type":"command","command":
	// HookCommand,"args":HookArgs} — exec form when HookArgs is non-nil.
	HookCommand string
	HookArgs    []string
	// HookEventsToRegister overrides HookEvents.
	HookEventsToRegister []string
	// Settings are merged into settings.json (top-level keys; "hooks" is ours when HookCommand is set).
	Settings map[string]any
	// OutputFormat is "json" (default; Result.SessionID comes from it), "text" or "stream-json".
	OutputFormat string
	// KeepPermissions leaves permission prompts on (no --dangerously-skip-permissions).
	KeepPermissions bool
	// Timeout bounds the run (default 3 minutes; ctx also applies).
	Timeout time.Duration
}

// Result is the outcome of a run.
type Result struct {
	SessionID      string
	TranscriptPath string // Home/.claude/projects/<encoded cwd>/<session>.jsonl ("" if not found)
	ProjectDir     string // the folder holding the transcript
	Stdout, Stderr []byte
	ExitCode       int
	Duration       time.Duration
	// Output is the decoded --output-format json result (nil for other formats).
	Output map[string]any
	// ResultText is Output["result"].
	ResultText string
	// IsError is Output["is_error"].
	IsError bool
	Args    []string // the full argument list used
}

// DefaultEnv is what every run gets besides HOME and ANTHROPIC_BASE_URL (see README.md).
var DefaultEnv = []string{
	"ANTHROPIC_API_KEY=sk-ant-api03-weave-e2e-fake-key",
	// Root refuses --dangerously-skip-permissions unless it is told it runs in a sandbox.
	"IS_SANDBOX=1",
	"DISABLE_AUTOUPDATER=1",
	"DISABLE_UPDATES=1",
	"DISABLE_TELEMETRY=1",
	"DISABLE_ERROR_REPORTING=1",
	"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
	"CLAUDE_CODE_DISABLE_FEEDBACK_SURVEY=1",
	"CLAUDE_CODE_DISABLE_TERMINAL_TITLE=1",
	"CLAUDE_CODE_ENABLE_TELEMETRY=0",
	"NO_COLOR=1",
}

// scrubbed are prefixes of variables never inherited from the test's own
// environment (a developer running the tests inside Claude Code, or with real
// credentials or an OTLP endpoint set, must not leak into the run).
var scrubbed = []string{"ANTHROPIC_", "CLAUDE", "OTEL_", "AWS_", "GOOGLE_", "VERTEX_", "HOME=", "XDG_CONFIG_HOME=", "HTTP_PROXY=", "HTTPS_PROXY=", "http_proxy=", "https_proxy=", "ALL_PROXY=", "all_proxy="}

func buildEnv(o Options) []string {
	env := slices.Concat(DefaultEnv,
		[]string{"HOME=" + o.Home, "ANTHROPIC_BASE_URL=" + o.BaseURL},
		o.Env)
	return clirun.Env(scrubbed, env...)
}

// WriteSettings writes Home/.claude/settings.json for o (hooks and extra settings).
func WriteSettings(o Options) error {
	if o.HookCommand == "" && len(o.Settings) == 0 {
		return nil
	}
	settings := map[string]any{}
	for k, v := range o.Settings {
		settings[k] = v
	}
	if o.HookCommand != "" {
		handler := map[string]any{"type": "command", "command": o.HookCommand, "timeout": 30}
		if o.HookArgs != nil {
			handler["args"] = o.HookArgs
		}
		events := o.HookEventsToRegister
		if events == nil {
			events = HookEvents
		}
		hooks := map[string]any{}
		for _, ev := range events {
			hooks[ev] = []any{map[string]any{"hooks": []any{handler}}}
		}
		settings["hooks"] = hooks
	}
	b, err := json.MarshalIndent(settings, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Join(o.Home, ".claude")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "settings.json"), b, 0o644)
}

var nonAlnum = regexp.MustCompile(`[^A-Za-z0-9]`)

// ProjectDirName is Claude Code's folder name for a project path: every
// character other than a letter or digit becomes '-'.
func ProjectDirName(cwd string) string { return nonAlnum.ReplaceAllString(cwd, "-") }

// FindTranscript locates <session>.jsonl under Home/.claude/projects.
func FindTranscript(home, cwd, session string) string {
	if session == "" {
		return ""
	}
	if real, err := filepath.EvalSymlinks(cwd); err == nil {
		cwd = real
	}
	p := filepath.Join(home, ".claude", "projects", ProjectDirName(cwd), session+".jsonl")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	matches, _ := filepath.Glob(filepath.Join(home, ".claude", "projects", "*", session+".jsonl"))
	if len(matches) > 0 {
		return matches[0]
	}
	return ""
}

// Run runs `claude -p` once. A non-zero exit is reported in Result.ExitCode
// and as an error (Result is filled in either case).
func Run(ctx context.Context, o Options) (Result, error) {
	var res Result
	if o.Home == "" || o.Cwd == "" || o.BaseURL == "" {
		return res, errors.New("claudecli: Home, Cwd and BaseURL are required")
	}
	bin, err := clirun.Prepare(ctx, o.Bin, Install, o.Home, o.Cwd)
	if err != nil {
		return res, err
	}
	if err := WriteSettings(o); err != nil {
		return res, err
	}
	format := o.OutputFormat
	if format == "" {
		format = "json"
	}
	args := []string{"-p", o.Prompt, "--output-format", format}
	if format == "stream-json" {
		args = append(args, "--verbose")
	}
	if !o.KeepPermissions {
		args = append(args, "--dangerously-skip-permissions")
	}
	if o.Resume != "" {
		args = append(args, "--resume", o.Resume)
	}
	args = append(args, o.Args...)
	res.Args = args

	timeout := o.Timeout
	if timeout == 0 {
		timeout = 3 * time.Minute
	}
	ran, err := clirun.Run(ctx, clirun.Cmd{Name: "claude", Path: bin, Args: args, Dir: o.Cwd, Env: buildEnv(o), Timeout: timeout})
	res.Stdout, res.Stderr, res.ExitCode, res.Duration = ran.Stdout, ran.Stderr, ran.ExitCode, ran.Duration

	if format == "json" {
		var out map[string]any
		if jerr := json.Unmarshal(bytes.TrimSpace(res.Stdout), &out); jerr == nil {
			res.Output = out
			res.SessionID, _ = out["session_id"].(string)
			res.ResultText, _ = out["result"].(string)
			res.IsError, _ = out["is_error"].(bool)
		}
	} else if format == "stream-json" {
		for _, line := range bytes.Split(res.Stdout, []byte("\n")) {
			var m map[string]any
			if json.Unmarshal(line, &m) == nil {
				if id, ok := m["session_id"].(string); ok && id != "" {
					res.SessionID = id
				}
				if m["type"] == "result" {
					res.Output = m
					res.ResultText, _ = m["result"].(string)
					res.IsError, _ = m["is_error"].(bool)
				}
			}
		}
	}
	if res.SessionID == "" {
		res.SessionID = o.Resume
	}
	res.TranscriptPath = FindTranscript(o.Home, o.Cwd, res.SessionID)
	if res.TranscriptPath != "" {
		res.ProjectDir = filepath.Dir(res.TranscriptPath)
	}
	return res, err
}

// Compact runs `/compact` on a session (claude -p "/compact" --resume session).
func Compact(ctx context.Context, o Options, session string) (Result, error) {
	o.Prompt = "/compact"
	o.Resume = session
	return Run(ctx, o)
}
