package claude

import (
	"encoding/json"
	"os"
	"strings"
	"time"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// hookPayload holds the hook fields the builder uses.
type hookPayload struct {
	HookEventName        string          `json:"hook_event_name"`
	SessionID            string          `json:"session_id"`
	TranscriptPath       string          `json:"transcript_path"`
	PromptID             string          `json:"prompt_id"`
	AgentID              string          `json:"agent_id"`
	AgentType            string          `json:"agent_type"`
	AgentTranscriptPath  string          `json:"agent_transcript_path"`
	ToolName             string          `json:"tool_name"`
	ToolUseID            string          `json:"tool_use_id"`
	DurationMS           *float64        `json:"duration_ms"`
	Error                json.RawMessage `json:"error"`
	ErrorDetails         string          `json:"error_details"`
	IsInterrupt          bool            `json:"is_interrupt"`
	LastAssistantMessage string          `json:"last_assistant_message"`
	Source               string          `json:"source"`
}

func jsonString(raw json.RawMessage) string {
	var s string
	if len(raw) > 0 && json.Unmarshal(raw, &s) == nil {
		return s
	}
	return ""
}

func (b *Builder) hook(name string, ev transcript.Event, p *hookPayload) {
	at := ev.ReceivedAt
	if at.IsZero() {
		at = b.st.Now
	}
	if p.TranscriptPath != "" && b.st.Main == "" && p.AgentID == "" {
		b.setMain(p.TranscriptPath)
	}
	switch name {
	case "PostToolUse", "PostToolUseFailure":
		b.st.HooksSeen = true
		if p.ToolUseID == "" {
			return
		}
		if b.st.HookTools == nil {
			b.st.HookTools = map[string]*hookTool{}
		}
		h := &hookTool{At: at, Interrupt: p.IsInterrupt}
		if p.DurationMS != nil {
			h.DurationMS, h.HasDur = *p.DurationMS, true
		}
		if name == "PostToolUseFailure" {
			h.Failed = true
			h.Error = jsonString(p.Error)
		}
		b.st.HookTools[p.ToolUseID] = h
		if c, tc := b.findPending(nil, p.ToolUseID); tc != nil && tc.Done {
			b.emitTool(c, tc)
		}
		b.touchByHook(p, at)
	case "SubagentStart":
		id := strings.TrimPrefix(p.AgentID, "agent-")
		b.discoverAgent(id)
		if a := b.agentIdx[id]; a != nil && a.Type == "" {
			a.Type = p.AgentType
		}
	case "SubagentStop":
		id := strings.TrimPrefix(p.AgentID, "agent-")
		if p.AgentTranscriptPath != "" && isAgentFile(p.AgentTranscriptPath) && fileExists(p.AgentTranscriptPath) {
			b.addSubFile(p.AgentTranscriptPath)
		} else {
			b.discoverAgent(id)
		}
		a := b.agentIdx[id]
		if a == nil || a.Done {
			return
		}
		if a.Type == "" {
			a.Type = p.AgentType
		}
		if a.Linked && answerMatches(a.Th.Answer, p.LastAssistantMessage) && len(a.Th.Pending) == 0 {
			b.finishAgent(a)
			return
		}
		a.StopAt = at
	case "Stop", "StopFailure":
		if p.AgentID != "" {
			return
		}
		t := b.cur()
		if p.PromptID != "" {
			if pt := b.turnIdx[p.PromptID]; pt != nil {
				t = pt
			}
		}
		if t == nil || t.Done {
			return
		}
		t.LastEvent = at
		if name == "StopFailure" {
			// The transcript's API error line may come before or after
			// this hook (a restart, the inbox): whichever comes first,
			// the hook's specific error and details win, and its
			// "unknown" never hides the line's api_error.
			t.Status = genai.StatusError
			if et := jsonString(p.Error); et != "" && et != "unknown" {
				t.ErrorType = et
			} else if t.ErrorType == "" {
				t.ErrorType = "unknown"
			}
			if p.ErrorDetails != "" {
				t.StatusMsg = p.ErrorDetails
			} else if t.StatusMsg == "" {
				t.StatusMsg = p.LastAssistantMessage
			}
		}
		want := strings.TrimSpace(p.LastAssistantMessage)
		if len(t.Th.Pending) == 0 && (answerMatches(t.Th.Answer, want) || want == "" && t.Ending) {
			b.finishTurn(t, false, time.Time{})
			return
		}
		t.StopAt = at
		t.StopText = want
	case "SessionEnd":
		for _, t := range b.st.Turns {
			if !t.Done && t.StopAt.IsZero() {
				t.StopAt = at
			}
		}
	default:
		b.touchByHook(p, at)
	}
}

// touchByHook keeps the turn a hook event belongs to from idling out.
func (b *Builder) touchByHook(p *hookPayload, at time.Time) {
	t := b.cur()
	if p.PromptID != "" {
		if pt := b.turnIdx[p.PromptID]; pt != nil {
			t = pt
		}
	}
	if t != nil && !t.Closed && at.After(t.LastEvent) {
		t.LastEvent = at
	}
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
