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
	ConversationID       string `json:"conversation_id"`
	ParentConversationID string `json:"parent_conversation_id"`
	GenerationID         string `json:"generation_id"`
	CursorVersion        string `json:"cursor_version"`
	WorkspaceRoots       Roots  `json:"workspace_roots"`
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
	err := json.Unmarshal(payload, &c)
	return shape(&c, err, named), c
}

// detect is Detect that also reports whether payload is JSON, which
// json.Unmarshal has checked in full before it decodes anything (a type
// error comes after that check), so the hook needs no second pass.
func detect(payload []byte, named string) (agent string, c Common, valid bool) {
	err := json.Unmarshal(payload, &c)
	var te *json.UnmarshalTypeError
	return shape(&c, err, named), c, err == nil || errors.As(err, &te)
}

// MaxWorkspaceRoots bounds the folders one event may name (a Cursor
// window's workspace): the daemon refuses an event naming more.
const MaxWorkspaceRoots = 256

// Roots are a payload's workspace folders, decoded up to one more than
// MaxWorkspaceRoots, so a payload naming 250,000 costs no more to decode
// than one naming 257 (it cost the hook its time budget, and the daemon
// its ack deadline). Values of another type are left out: a newer agent's
// shape must not stop the rest of the payload from decoding.
type Roots []string

// UnmarshalJSON decodes at most MaxWorkspaceRoots+1 strings of an array.
func (r *Roots) UnmarshalJSON(b []byte) error {
	*r = nil
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('[') {
		return nil
	}
	for dec.More() && len(*r) <= MaxWorkspaceRoots {
		var s string
		if err := dec.Decode(&s); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				continue // not a string: the decoder has stepped over it
			}
			return nil
		}
		*r = append(*r, s)
	}
	return nil
}

// shape is the agent whose payload decoded into c (with err) looks like
// (see Detect).
func shape(c *Common, err error, named string) string {
	if err != nil {
		// A field of another type (a newer agent) leaves it zero and the
		// others decoded: the shape still tells.
		var te *json.UnmarshalTypeError
		if !errors.As(err, &te) {
			return named
		}
	}
	switch {
	case named == AgentGemini || geminiOnlyEvents[c.HookEventName]:
		return AgentGemini
	case c.CursorVersion != "" || c.ConversationID != "" || startsLower(c.HookEventName):
		return AgentCursor
	case named == AgentCodex || c.TurnID != "" || isRollout(c.TranscriptPath):
		return AgentCodex
	case c.HookEventName != "" || c.SessionID != "":
		return AgentClaude
	}
	return named
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
