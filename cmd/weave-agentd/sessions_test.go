package main

import (
	"testing"

	"github.com/weave-agentd/weave-agentd/genai"
)

// TestSessionsAgentLabel: the AGENT column shows what --agent takes.
func TestSessionsAgentLabel(t *testing.T) {
	for name, want := range map[string]string{
		genai.AgentClaudeCode: "claude", genai.AgentCursor: "cursor", genai.AgentCodex: "codex", genai.AgentGeminiCLI: "gemini",
		"": "-", "vim": "vim",
	} {
		if got := sessionsAgentLabel(name); got != want {
			t.Errorf("sessionsAgentLabel(%q) = %q, want %q", name, got, want)
		}
	}
}
