package hookconfig

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Version is an agent's version (major.minor.patch).
type Version struct{ Major, Minor, Patch int }

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// Less reports whether v is older than w.
func (v Version) Less(w Version) bool {
	if v.Major != w.Major {
		return v.Major < w.Major
	}
	if v.Minor != w.Minor {
		return v.Minor < w.Minor
	}
	return v.Patch < w.Patch
}

var versionRE = regexp.MustCompile(`(\d+)\.(\d+)\.(\d+)`)

// ParseVersion finds the first x.y.z in s, such as the output of
// `claude --version` ("2.1.291 (Claude Code)") or `codex --version`
// ("codex-cli 0.171.0").
func ParseVersion(s string) (Version, bool) {
	m := versionRE.FindStringSubmatch(s)
	if m == nil {
		return Version{}, false
	}
	var v Version
	v.Major, _ = strconv.Atoi(m[1])
	v.Minor, _ = strconv.Atoi(m[2])
	v.Patch, _ = strconv.Atoi(m[3])
	return v, true
}

func mustVersion(s string) Version {
	v, ok := ParseVersion(s)
	if !ok {
		panic("bad version " + s)
	}
	return v
}

// ClaudeHooksIntroduced is the first Claude Code version with hooks.
var ClaudeHooksIntroduced = mustVersion("1.0.38")

// ClaudeUnknownEventsTolerated is the first Claude Code version that skips an
// unknown hook event name instead of ignoring the whole settings file.
var ClaudeUnknownEventsTolerated = mustVersion("2.1.101")

// claudeEventTable lists the Claude Code events weave-agentd registers (the
// list in DESIGN.md, in that order) with the version that introduced each
// (FORMATS.md §1.6, introduction history). It is the only source of event
// names we ever write: MessageDisplay and WorktreeCreate are deliberately
// absent.
var claudeEventTable = []struct {
	Name  string
	Since Version
}{
	{"SessionStart", mustVersion("1.0.62")},
	{"UserPromptSubmit", mustVersion("1.0.54")},
	{"PreToolUse", mustVersion("1.0.38")},
	{"PostToolUse", mustVersion("1.0.38")},
	// Documented "at least since Jan 2026" (SDK typed it 2026-01-29); the
	// 2.1.0 line is the conservative floor.
	{"PostToolUseFailure", mustVersion("2.1.0")},
	{"Stop", mustVersion("1.0.38")},
	{"StopFailure", mustVersion("2.1.78")},
	{"SubagentStart", mustVersion("2.0.43")},
	{"SubagentStop", mustVersion("1.0.41")}, // Stop/SubagentStop split
	{"PreCompact", mustVersion("1.0.48")},
	{"SessionEnd", mustVersion("1.0.85")},
	{"Notification", mustVersion("1.0.38")},
}

// claudeToolEvents take a tool-name matcher; we match every tool.
var claudeToolEvents = map[string]bool{"PreToolUse": true, "PostToolUse": true, "PostToolUseFailure": true}

// ClaudeEvents returns the events to register for a Claude Code version.
// A zero Version means "unknown": every event in the table is returned (a
// recent version is assumed, but nothing outside the table is ever written).
// Versions before hooks existed are an error.
func ClaudeEvents(v Version) ([]string, error) {
	if v != (Version{}) && v.Less(ClaudeHooksIntroduced) {
		return nil, fmt.Errorf("Claude Code %s has no hooks (they arrived in %s): update Claude Code (claude update), then run this again", v, ClaudeHooksIntroduced)
	}
	var out []string
	for _, e := range claudeEventTable {
		if v == (Version{}) || !v.Less(e.Since) {
			out = append(out, e.Name)
		}
	}
	return out, nil
}

// AllClaudeEvents is every Claude Code event weave-agentd may register.
func AllClaudeEvents() []string {
	out := make([]string, len(claudeEventTable))
	for i, e := range claudeEventTable {
		out[i] = e.Name
	}
	return out
}

// cursorEvents is DESIGN.md's Cursor list. Permission gates (preToolUse,
// beforeShellExecution, beforeMCPExecution, beforeReadFile, subagentStart)
// are never registered. FORMATS.md has no per-version history for Cursor's
// hook names, so there is no gating: every name here is in the Cursor hooks
// documentation and in the real 2026.10.01 captures' builds.
var cursorEvents = []string{
	"sessionStart", "sessionEnd", "beforeSubmitPrompt", "postToolUse", "postToolUseFailure",
	"afterShellExecution", "afterMCPExecution", "afterFileEdit", "afterAgentResponse",
	"afterAgentThought", "subagentStop", "preCompact", "stop",
}

// codexEvents is DESIGN.md's Codex CLI list: never PermissionRequest (it
// asks a decision). PreCompact and PostCompact bracket a compaction.
var codexEvents = []string{
	"SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "PreCompact", "PostCompact",
	"Stop", "SessionEnd",
}

// codexToolEvents take a tool-name matcher; we match every tool.
var codexToolEvents = map[string]bool{"PreToolUse": true, "PostToolUse": true}

// codexTimeout is the longest handler timeout Codex CLI 0.171.0 keeps for
// every event (it clamps SessionEnd's to 3 s, with a warning on each run).
const codexTimeout = 3

// CodexEvents returns the Codex CLI events weave-agentd registers.
func CodexEvents() []string { return append([]string(nil), codexEvents...) }

// geminiEvents is DESIGN.md's Gemini CLI list: never AfterModel (it fires
// on every streamed chunk, each time with the whole request) nor
// PreCompress (before every model call).
var geminiEvents = []string{"SessionStart", "BeforeAgent", "BeforeTool", "AfterTool", "AfterAgent", "SessionEnd"}

// geminiToolEvents take a tool-name matcher; we match every tool.
var geminiToolEvents = map[string]bool{"BeforeTool": true, "AfterTool": true}

// GeminiEvents returns the Gemini CLI events weave-agentd registers.
func GeminiEvents() []string { return append([]string(nil), geminiEvents...) }

// CursorEvents returns the Cursor events weave-agentd registers.
func CursorEvents() []string { return append([]string(nil), cursorEvents...) }

// Events returns the default event list of an agent for its version (zero
// = unknown); it depends on it for an agent with a VersionProbe.
func Events(agent Agent, version Version) ([]string, error) {
	f, err := checkAgent(agent)
	if err != nil {
		return nil, err
	}
	return f.Events(version)
}

// checkEvents refuses names outside our tables: writing an unknown name can
// make the agent ignore (Claude Code < 2.1.101) or reject (Cursor) the file.
func checkEvents(agent Agent, events []string) error {
	f, err := checkAgent(agent)
	if err != nil {
		return err
	}
	var bad []string
	for _, e := range events {
		if !slices.Contains(f.Known, e) {
			bad = append(bad, e)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("refusing to register %s for %s: not an event weave-agentd uses (an unknown name can make the agent ignore the whole file)", strings.Join(bad, ", "), agent)
	}
	return nil
}
