package main

import (
	"maps"
	"testing"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/hooks"
)

// TestHookAgents: the daemon takes the hook events of every agent the hook
// client names, under the agent's name, and no other.
func TestHookAgents(t *testing.T) {
	want := map[string]string{hooks.AgentClaude: genai.AgentClaudeCode, hooks.AgentCursor: genai.AgentCursor,
		hooks.AgentCodex: genai.AgentCodex, hooks.AgentGemini: genai.AgentGeminiCLI}
	if got := hookAgents(); !maps.Equal(got, want) {
		t.Errorf("hookAgents() = %v, want %v", got, want)
	}
}
