// Package agents links every supported coding agent into the program: each
// import registers one agent (its package calls transcript.Register).
// Adding an agent is one package and one line here.
package agents

import (
	_ "github.com/weave-agentd/weave-agentd/transcript/claude" // Claude Code
	_ "github.com/weave-agentd/weave-agentd/transcript/codex"  // Codex CLI
	_ "github.com/weave-agentd/weave-agentd/transcript/cursor" // Cursor
	_ "github.com/weave-agentd/weave-agentd/transcript/gemini" // Gemini CLI
)
