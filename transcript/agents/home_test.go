package agents_test

import (
	"testing"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// TestHomeHint: the hints that name an agent's folder name the variable
// that moves it, found from its Home alone.
func TestHomeHint(t *testing.T) {
	for name, want := range map[string]string{
		genai.AgentClaudeCode: "~/.claude (or $CLAUDE_CONFIG_DIR)",
		genai.AgentCodex:      "~/.codex (or $CODEX_HOME)",
		genai.AgentCursor:     "~/.cursor",
	} {
		a, ok := transcript.AgentByName(name)
		if !ok {
			t.Fatalf("%s is not registered", name)
		}
		if got := transcript.HomeHint(a); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
}
