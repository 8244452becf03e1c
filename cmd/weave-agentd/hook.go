package main

import (
	"context"
	"os/signal"
	"syscall"

	"github.com/weave-agentd/weave-agentd/hooks"
)

func hookCommand() command {
	return command{
		Name:  "hook",
		Usage: "[claude|codex|cursor|gemini] < payload.json",
		Short: "the hook client (same as weave-agentd-hook), for tests",
		Long: `Reads one hook payload from stdin, hands it to the daemon (or to the inbox
journal when the daemon does not answer within 200 ms), prints what the agent
expects on stdout and exits 0, always. The agent is detected from the payload;
the argument is only a hint. Agents run the smaller weave-agentd-hook binary,
which does exactly the same.`,
		Run: func(_ context.Context, e *env, _ any, args []string) error {
			// As weave-agentd-hook: an agent that stops reading our answer
			// must not see the hook die of SIGPIPE (exit 141).
			signal.Ignore(syscall.SIGPIPE)
			hooks.RunHook(args, e.Stdin, e.Stdout, e.Getenv)
			return nil
		},
	}
}
