package fakeanthropic

import (
	"strings"
	"sync"
)

// Seq answers calls with replies in order, then with the fallback (Say("Done.")
// when fallback is nil) once they run out. Safe for concurrent use.
func Seq(replies ...Reply) Responder {
	var mu sync.Mutex
	i := 0
	return func(c *Call) Reply {
		mu.Lock()
		defer mu.Unlock()
		if i < len(replies) {
			r := replies[i]
			i++
			return r
		}
		return Say("Done.", Usage{InputTokens: 50, OutputTokens: 2})
	}
}

// ByPrompt picks the responder by the prompt that opened the current turn:
// the first key (in order of pairs) contained in the request's prompt text
// wins; "" matches everything. Useful when one session runs several turns.
func ByPrompt(pairs ...PromptCase) Responder {
	return func(c *Call) Reply {
		p := c.Req.TurnPrompt()
		for _, pc := range pairs {
			if pc.Contains == "" || strings.Contains(p, pc.Contains) {
				return pc.Responder(c)
			}
		}
		return Say("Done.", Usage{InputTokens: 50, OutputTokens: 2})
	}
}

// PromptCase is one branch of ByPrompt.
type PromptCase struct {
	Contains  string
	Responder Responder
}

// TurnPrompt is the text of the user message that opened the current turn:
// the last user message that carries no tool_result. It includes injected
// <system-reminder> blocks (a background task's <task-notification> arrives
// inside one), so match it with strings.Contains.
func (r *MessagesRequest) TurnPrompt() string {
	if i := r.turnStart(); i >= 0 {
		return r.Messages[i].Content.Text()
	}
	return ""
}

// turnStart is the index of the user message that opened the current turn (-1 if none).
func (r *MessagesRequest) turnStart() int {
	for i := len(r.Messages) - 1; i >= 0; i-- {
		m := r.Messages[i]
		if m.Role != "user" {
			continue
		}
		hasResult := false
		for _, b := range m.Content {
			if b.Type == "tool_result" {
				hasResult = true
				break
			}
		}
		if !hasResult {
			return i
		}
	}
	return -1
}

// Step is the 0-based number of model calls already made in the current turn
// of this conversation: the number of assistant messages after the message
// that opened the turn. 0 on a fresh prompt, 1 after the first tool round, ...
func (r *MessagesRequest) Step() int {
	n := 0
	for _, m := range r.Messages[r.turnStart()+1:] {
		if m.Role == "assistant" {
			n++
		}
	}
	return n
}

// Steps answers by Step: replies[Step()] — stateless, so it serves parallel
// conversations (several subagents) and retried requests alike. Past the end
// it answers Say("Done.").
func Steps(replies ...Reply) Responder {
	return func(c *Call) Reply {
		if i := c.Req.Step(); i < len(replies) {
			return replies[i]
		}
		return Say("Done.", Usage{InputTokens: 50, OutputTokens: 2})
	}
}

// Markers used by the built-in classifier. They were read off the requests
// Claude Code 2.1.328 sends (see e2e/README.md); Script.Classify can override.
var (
	// subagentSystemMarkers appear in a subagent's system prompt.
	subagentSystemMarkers = []string{"cc_is_subagent=true", "You are an agent for Claude Code"}
	// compactMarkers appear in the last user message of a compaction request.
	compactMarkers = []string{"Your task is to create a detailed summary of the conversation", "create a detailed summary of the conversation so far"}
)

func (s *Server) classify(c *Call) Kind {
	if s.script.Classify != nil {
		if k := s.script.Classify(c); k != "" {
			return k
		}
	}
	return Classify(c.Req)
}

// Classify is the built-in classification of a messages request.
func Classify(r *MessagesRequest) Kind {
	last := r.LastUserText()
	for _, m := range compactMarkers {
		if strings.Contains(last, m) {
			return KindCompact
		}
	}
	sys := r.SystemText()
	// Side requests (titles, classifiers, quota probes) offer no tools.
	if len(r.Tools) == 0 {
		return KindSide
	}
	for _, m := range subagentSystemMarkers {
		if strings.Contains(sys, m) {
			return KindSubagent
		}
	}
	return KindMain
}
