package transcript

import (
	"context"
	"log/slog"
)

// HookTruster is implemented by an agent that runs a user's hook only once
// the user trusted its content, and skips an untrusted one silently (Codex
// CLI). Install records that trust after registering our hooks, the way
// the agent's own UI would; doctor and status report our hooks it would
// skip (any later edit of the file un-trusts them).
type HookTruster interface {
	// TrustHooks records that our handlers in the hook settings file are
	// trusted; it returns what it did, for one line of output. ctx bounds
	// everything it runs. The error says what to do instead.
	TrustHooks(ctx context.Context, f HookFile) (string, error)
	// CheckHookTrust asks the agent itself (it may run it; ctx bounds it)
	// whether it runs our handlers: doctor.
	CheckHookTrust(ctx context.Context, f HookFile) []Finding
	// HookTrustOnDisk says the same from the files alone, cheaply:
	// status. No finding when it cannot tell.
	HookTrustOnDisk(f HookFile) []Finding
}

// HookFile is a hook settings file holding our handlers.
type HookFile struct {
	Home    string // the agent's Home
	Path    string // the file: in Home, or in Project
	Project string // the project folder; "" for the user's settings
	// Command is our handlers' command (hookconfig.Command): handlers that
	// run anything else are never trusted by us.
	Command string
	// Getenv is the environment the agent runs in (PATH finds it).
	Getenv func(string) string
	// Flag is the CLI flag that selects the agent ("--codex", plus
	// "--project DIR" for a project), for hints.
	Flag   string
	Logger *slog.Logger
}
