// Command weave-agentd-hook is the hook Claude Code, Cursor, Codex CLI and
// Gemini CLI run on every event. It is deliberately tiny (standard library and the hooks package
// only): it hands the event to the daemon, or to the inbox journal when the
// daemon is away, prints exactly what the agent expects, and exits 0.
//
//	weave-agentd-hook [claude|cursor|codex|gemini] < payload.json
package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/weave-agentd/weave-agentd/hooks"
)

func main() {
	// An agent that no longer reads our answer must not see the hook die
	// of SIGPIPE: the write fails instead, and the hook exits 0.
	signal.Ignore(syscall.SIGPIPE)
	os.Exit(hooks.RunHook(os.Args[1:], os.Stdin, os.Stdout, os.Getenv))
}
