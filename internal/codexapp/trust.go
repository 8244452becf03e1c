package codexapp

import (
	"context"
	"fmt"
	"time"
)

// StepTimeout bounds each call to the app-server (its start-up included in
// the first); the caller's context bounds them all.
const StepTimeout = 20 * time.Second

// Target names our handlers: those in the hooks file at Path that run
// Command, as Codex loads them for a session in Cwd (a project's hooks are
// loaded only for sessions in it; the user's for any).
type Target struct {
	Path    string
	Cwd     string
	Command string
}

// Ours are the handlers of t among lists, once each.
func Ours(lists []HookList, t Target) []Hook {
	var out []Hook
	seen := map[string]bool{}
	for _, l := range lists {
		for _, h := range l.Hooks {
			if h.SourcePath == t.Path && h.Command == t.Command && !seen[h.Key] {
				seen[h.Key] = true
				out = append(out, h)
			}
		}
	}
	return out
}

// Check asks a new app-server which of our handlers Codex loads and how it
// trusts them.
func Check(ctx context.Context, o Options, t Target) ([]Hook, error) {
	c, err := Start(o)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return list(ctx, c, t, true)
}

// TrustResult says what Trust did.
type TrustResult struct {
	Hooks   []Hook // our handlers afterwards
	Trusted int    // how many were trusted by this call
}

// Trust records in the user's config.toml, through a new app-server, that
// our handlers' current content is trusted, as Codex's /hooks screen does,
// and checks that Codex now runs them. Handlers of anyone else are never
// touched, nor one of ours the user disabled.
func Trust(ctx context.Context, o Options, t Target) (TrustResult, error) {
	var res TrustResult
	c, err := Start(o)
	if err != nil {
		return res, err
	}
	defer c.Close()
	hooks, err := list(ctx, c, t, true)
	if err != nil {
		return res, err
	}
	if len(hooks) == 0 {
		return res, fmt.Errorf("codex does not load the hooks in %s (for a project: is the project trusted in Codex?)", t.Path)
	}
	hashes := map[string]string{}
	for _, h := range hooks {
		if h.Enabled && h.TrustStatus != "trusted" && h.TrustStatus != "managed" {
			hashes[h.Key] = h.CurrentHash
		}
	}
	if len(hashes) > 0 {
		sctx, cancel := context.WithTimeout(ctx, StepTimeout)
		err := c.TrustHashes(sctx, hashes)
		cancel()
		if err != nil {
			return res, err
		}
	}
	if res.Hooks, err = list(ctx, c, t, false); err != nil {
		return res, err
	}
	res.Trusted = len(hashes)
	for _, h := range res.Hooks {
		if h.Enabled && !h.Runs() {
			return res, fmt.Errorf("codex still reports the hook %s as %s after it was trusted", h.Key, h.TrustStatus)
		}
	}
	return res, nil
}

// list lists our handlers, opening the session first when init.
func list(ctx context.Context, c *Client, t Target, init bool) ([]Hook, error) {
	if init {
		sctx, cancel := context.WithTimeout(ctx, StepTimeout)
		err := c.Initialize(sctx, "weave-agentd", "1")
		cancel()
		if err != nil {
			return nil, err
		}
	}
	sctx, cancel := context.WithTimeout(ctx, StepTimeout)
	defer cancel()
	lists, err := c.ListHooks(sctx, []string{t.Cwd})
	if err != nil {
		return nil, err
	}
	return Ours(lists, t), nil
}
