package transcript

import "testing"

func TestReadablePrompt(t *testing.T) {
	for in, want := range map[string]string{
		// Shapes from real transcripts (2.1.328, 2.1.29, 1.0.98).
		"<command-name>/compact</command-name>\n            <command-message>compact</command-message>\n            <command-args></command-args>":                         "/compact",
		"<command-name>/compact</command-name>\n<command-message>compact</command-message>\n<command-args>focus on tests</command-args>":                                   "/compact focus on tests",
		"<command-message>superpowers:brainstorm</command-message>\n<command-name>/superpowers:brainstorm</command-name>":                                                  "/superpowers:brainstorm",
		"<command-message>orchestrator is running…</command-message>\n<command-name>/orchestrator</command-name>\n<command-args>create TODO app by Next.js</command-args>": "/orchestrator create TODO app by Next.js",
		"<command-message>x</command-message>\n<command-name>/y</command-name>\n<command-args>line one\n\nline two</command-args>":                                         "/y line one\n\nline two",
		"<command-name>review</command-name><command-args> a b </command-args>\nand more":                                                                                  "/review a b\nand more",
		"<local-command-stdout>Compacted (ctrl+o to see full summary)</local-command-stdout>":                                                                              "Compacted (ctrl+o to see full summary)",
		"<local-command-stderr>Error: no such command</local-command-stderr>":                                                                                              "Error: no such command",
		"<task-notification>\n<task-id>a1</task-id>\n<status>completed</status>\n</task-notification>":                                                                     "<task-notification>\n<task-id>a1</task-id>\n<status>completed</status>\n</task-notification>",
		"please explain <command-name> tags":              "please explain <command-name> tags",
		"what does <command-name>/x</command-name> mean?": "what does <command-name>/x</command-name> mean?",
		"just text":                   "just text",
		"<command-name>/unterminated": "<command-name>/unterminated",
		"see <local-command-stdout>x</local-command-stdout> in the middle of text": "see <local-command-stdout>x</local-command-stdout> in the middle of text",
	} {
		if got := ReadablePrompt(in); got != want {
			t.Errorf("ReadablePrompt(%q) = %q, want %q", in, got, want)
		}
	}
}
