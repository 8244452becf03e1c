// Package hooks holds what the hook client needs and nothing more: hook
// payload types, agent detection, the per-event stdout answers, the state and
// socket paths, the socket wire format, the client itself and the inbox
// journal. It imports only the standard library, because it is linked into
// weave-agentd-hook, which runs on every agent event.
package hooks

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
)

// Agent names, as used on the command line and in the wire format.
const (
	AgentClaude = "claude"
	AgentCursor = "cursor"
	AgentCodex  = "codex"
	AgentGemini = "gemini"
)

// Common holds the fields both agents' payloads may carry and that routing
// needs. Unknown fields are ignored.
type Common struct {
	HookEventName string `json:"hook_event_name"`

	// Claude Code
	SessionID      string `json:"session_id"`
	TranscriptPath string `json:"transcript_path"`
	Cwd            string `json:"cwd"`
	PromptID       string `json:"prompt_id"`
	AgentID        string `json:"agent_id"`
	AgentType      string `json:"agent_type"`

	// Codex CLI (Claude Code's field names, plus turn_id)
	TurnID string `json:"turn_id"`

	// Cursor
	ConversationID       string   `json:"conversation_id"`
	ParentConversationID string   `json:"parent_conversation_id"`
	GenerationID         string   `json:"generation_id"`
	CursorVersion        string   `json:"cursor_version"`
	WorkspaceRoots       []string `json:"workspace_roots"`
}

// MaxSessionID and MaxEventID bound the ids of an event the daemon takes
// (agents use UUIDs, the hook 32 hex digits): they are part of the spool's
// keys, which bbolt limits to 32 KiB.
const (
	MaxSessionID = 1024
	MaxEventID   = 256
)

// Session returns the conversation id the event belongs to. A Cursor
// subagent's events belong to the conversation that started it, so they nest
// under its Task tool call.
func (c *Common) Session() string {
	if c.ParentConversationID != "" {
		return c.ParentConversationID
	}
	if c.ConversationID != "" {
		return c.ConversationID
	}
	return c.SessionID
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// StripBOM removes a leading UTF-8 byte-order mark (cursor-agent writes one).
func StripBOM(b []byte) []byte { return bytes.TrimPrefix(b, utf8BOM) }

// Detect tells which agent sent payload. A Cursor-shaped payload is
// Cursor's whatever the hook was registered as, because Cursor also runs
// hooks registered in Claude Code's settings and sends them Cursor-shaped
// payloads. Gemini CLI's and Codex CLI's payloads look like Claude Code's:
// their hook commands name them, and that name wins (no other agent runs
// Gemini CLI's hooks); a payload also shows Gemini CLI by an event name only
// it uses, and Codex CLI by a turn_id or a transcript_path to a
// rollout-*.jsonl file. Any other is Claude Code's.
// It returns the agent ("" when it cannot tell) and the decoded common fields.
func Detect(payload []byte, named string) (string, Common) {
	var c Common
	if err := json.Unmarshal(payload, &c); err != nil {
		// A field of another type (a newer agent) leaves it zero and the
		// others decoded: the shape still tells.
		var te *json.UnmarshalTypeError
		if !errors.As(err, &te) {
			return named, c
		}
	}
	switch {
	case named == AgentGemini || geminiOnlyEvents[c.HookEventName]:
		return AgentGemini, c
	case c.CursorVersion != "" || c.ConversationID != "" || startsLower(c.HookEventName):
		return AgentCursor, c
	case named == AgentCodex || c.TurnID != "" || isRollout(c.TranscriptPath):
		return AgentCodex, c
	case c.HookEventName != "" || c.SessionID != "":
		return AgentClaude, c
	}
	return named, c
}

// geminiOnlyEvents are Gemini CLI event names no other agent uses, so a
// payload carrying one is Gemini CLI's even when its command does not say.
var geminiOnlyEvents = map[string]bool{
	"BeforeAgent": true, "AfterAgent": true, "BeforeTool": true, "AfterTool": true,
	"BeforeModel": true, "AfterModel": true, "BeforeToolSelection": true, "PreCompress": true,
}

func startsLower(s string) bool { return s != "" && s[0] >= 'a' && s[0] <= 'z' }

// isRollout reports whether path names a Codex CLI transcript
// (rollout-<timestamp>-<session id>.jsonl); Claude Code's are <session id>.jsonl.
func isRollout(path string) bool {
	base := path[strings.LastIndexAny(path, `/\`)+1:]
	return strings.HasPrefix(base, "rollout-") && strings.HasSuffix(base, ".jsonl")
}

// cursorPermissionEvents ask a permission; we never register them, but if one
// reaches us we must allow, never block.
var cursorPermissionEvents = map[string]bool{
	"preToolUse": true, "beforeShellExecution": true, "beforeMCPExecution": true,
	"beforeReadFile": true, "subagentStart": true, "beforeTabFileRead": true,
}

// Answer returns exactly what the hook must print on stdout for an event.
// Claude Code gets nothing (plain stdout would be fed to the model), except
// a JSON systemMessage on SessionStart when warning is set. Cursor always
// gets one JSON object and a newline, and never a followup_message.
func Answer(agent, event, warning string) []byte {
	if agent == AgentCursor {
		switch {
		case event == "beforeSubmitPrompt":
			return []byte("{\"continue\":true}\n")
		case cursorPermissionEvents[event]:
			return []byte("{\"permission\":\"allow\"}\n")
		default:
			return []byte("{}\n")
		}
	}
	if agent == AgentGemini {
		return []byte("{}\n") // Gemini CLI parses stdout as JSON: {} changes nothing
	}
	if agent == AgentClaude && event == "SessionStart" && warning != "" {
		b, _ := json.Marshal(map[string]string{"systemMessage": warning})
		return append(b, '\n')
	}
	return nil
}
