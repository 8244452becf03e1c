package codexapp

import (
	"context"
	"fmt"
	"strings"
)

// Hook is one hook handler as hooks/list reports it.
type Hook struct {
	// Key names the handler in config.toml's hooks.state:
	// "<source file>:<event label>:<group index>:<handler index>".
	Key         string `json:"key"`
	EventName   string `json:"eventName"` // "preToolUse"
	Command     string `json:"command"`
	SourcePath  string `json:"sourcePath"`
	Source      string `json:"source"` // "user", "project" …
	Enabled     bool   `json:"enabled"`
	IsManaged   bool   `json:"isManaged"`
	CurrentHash string `json:"currentHash"` // "sha256:…" (HookHash)
	// TrustStatus is "trusted", "untrusted" (never trusted), "modified"
	// (trusted with another content) or "managed".
	TrustStatus string `json:"trustStatus"`
}

// Runs reports whether Codex runs the handler: enabled, and trusted or
// managed by an administrator.
func (h Hook) Runs() bool {
	return h.Enabled && (h.TrustStatus == "trusted" || h.TrustStatus == "managed")
}

// HookList is hooks/list's answer for one working folder.
type HookList struct {
	Cwd      string `json:"cwd"`
	Hooks    []Hook `json:"hooks"`
	Warnings []string
	Errors   []struct {
		Path    string `json:"path"`
		Message string `json:"message"`
	} `json:"errors"`
}

// Initialize opens the session (initialize, then the initialized
// notification).
func (c *Client) Initialize(ctx context.Context, clientName, clientVersion string) error {
	var res struct {
		CodexHome string `json:"codexHome"`
	}
	params := map[string]any{"clientInfo": map[string]string{"name": clientName, "version": clientVersion}}
	if err := c.Call(ctx, "initialize", params, &res); err != nil {
		return err
	}
	c.log.Debug("codex app-server initialized", "codex_home", res.CodexHome)
	return c.Notify(ctx, "initialized")
}

// ListHooks asks which hooks Codex loads for sessions in each of cwds.
func (c *Client) ListHooks(ctx context.Context, cwds []string) ([]HookList, error) {
	var res struct {
		Data []HookList `json:"data"`
	}
	if err := c.Call(ctx, "hooks/list", map[string]any{"cwds": cwds}, &res); err != nil {
		return nil, err
	}
	return res.Data, nil
}

// TrustHashes records trusted hashes (key → "sha256:…") in the user's
// config.toml: one config/batchWrite edit upserting the hooks.state table,
// which keeps the other keys' state. The keys hold dots (the file's path),
// so they must be keys of the value, never parts of a dotted key path.
func (c *Client) TrustHashes(ctx context.Context, hashes map[string]string) error {
	if len(hashes) == 0 {
		return nil
	}
	state := map[string]any{}
	for k, h := range hashes {
		state[k] = map[string]string{"trusted_hash": h}
	}
	params := map[string]any{"edits": []map[string]any{
		{"keyPath": "hooks.state", "mergeStrategy": "upsert", "value": state},
	}}
	var res struct {
		Status string `json:"status"`
	}
	if err := c.Call(ctx, "config/batchWrite", params, &res); err != nil {
		return err
	}
	if !strings.HasPrefix(res.Status, "ok") { // "ok", "okOverridden"
		return fmt.Errorf("codex app-server config/batchWrite: status %q", res.Status)
	}
	return nil
}
