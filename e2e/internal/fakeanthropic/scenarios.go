package fakeanthropic

import "strings"

// Model behaviour shared by the capture tests (internal/claudecli, which
// record e2e/testdata/claude-2.1.328) and the end-to-end scenarios that
// replay it through the daemon.

// BackgroundSubagent delegates an echo to a general-purpose subagent run in
// the background, and answers the task notification that reports it.
func BackgroundSubagent() Script {
	return Script{
		Main: func(c *Call) Reply {
			if strings.Contains(c.Req.TurnPrompt(), "<task-notification>") {
				return Say("The subagent reported: from-subagent.", Usage{InputTokens: 400, OutputTokens: 9})
			}
			return Steps(
				Reply{Parts: []Part{Text("Delegating."), ToolUse("Agent", map[string]any{
					"description": "Echo in a subagent", "prompt": "Run echo from-subagent and report", "subagent_type": "general-purpose"})},
					Usage: Usage{InputTokens: 700, OutputTokens: 50}},
				Say("The subagent is running in the background.", Usage{InputTokens: 750, OutputTokens: 10}),
			)(c)
		},
		Subagent: Steps(
			Reply{Parts: []Part{Bash("echo from-subagent", "Echo for the parent")}, Usage: Usage{InputTokens: 200, OutputTokens: 20}},
			Say("from-subagent", Usage{InputTokens: 230, OutputTokens: 5}),
		),
	}
}

// TwoQuestions answers "first question" and, in a resumed session, "second
// question".
func TwoQuestions() Responder {
	return ByPrompt(
		PromptCase{Contains: "first question", Responder: Steps(Say("First answer.", Usage{InputTokens: 100, OutputTokens: 3}))},
		PromptCase{Contains: "second question", Responder: Steps(Say("Second answer.", Usage{InputTokens: 140, OutputTokens: 3, CacheReadInputTokens: 100}))},
	)
}
