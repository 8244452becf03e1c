// Command weave-agentd is the per-user daemon that turns what coding agents do
// into OpenTelemetry GenAI traces, and the CLI that installs and inspects it.
// All behaviour lives in the packages; this file only wires the process.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() { os.Exit(process()) }

// process runs one invocation with SIGINT/SIGTERM cancelling its context.
func process() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Main(ctx, os.Args[1:], newEnv())
}
