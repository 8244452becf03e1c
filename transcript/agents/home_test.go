package agents_test

import (
	"slices"
	"testing"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// TestHomeVars: the hints that name an agent's folder name the variable
// that moves it, found from its Home alone.
func TestHomeVars(t *testing.T) {
	for name, want := range map[string][]string{
		genai.AgentClaudeCode: {"CLAUDE_CONFIG_DIR"},
		genai.AgentCodex:      {"CODEX_HOME"},
		genai.AgentCursor:     nil,
	} {
		a, ok := transcript.AgentByName(name)
		if !ok {
			t.Fatalf("%s is not registered", name)
		}
		if got := transcript.HomeVars(a); !slices.Equal(got, want) {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
}
