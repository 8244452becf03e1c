package codexapp

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"unicode"

	"github.com/BurntSushi/toml"

	"github.com/weave-agentd/weave-agentd/internal/regular"
)

// How Codex CLI (0.171.0) computes a hook's currentHash, checked against
// its hooks/list answers (TestHookHashMatchesCodex): the SHA-256, as
// "sha256:<hex>", of the compact JSON, keys sorted at every level, of
//
//	{"event_name": "<event label>", "matcher": "<matcher>",
//	 "hooks": [{"type": "command", "command": "…", "timeout": N, "async": false, "statusMessage": "…"}]}
//
// with one handler: the event label is the event in snake case
// ("pre_tool_use"); "matcher" is left out when the group has none and for
// the events that take none (UserPromptSubmit, Stop), and is otherwise kept
// as written (not trimmed); "timeout" is the handler's, 600 when unset, at
// least 1 — for SessionEnd 1 when unset and at most 3; "statusMessage" only
// when set. The key of a handler in config.toml's hooks.state is
// "<hooks.json path>:<event label>:<group index>:<handler index>", counting
// every group and handler in the file.

// Handler is one handler of a hooks.json matcher group.
type Handler struct {
	Type          string  `json:"type"`
	Command       string  `json:"command"`
	Timeout       *uint64 `json:"timeout,omitempty"`
	Async         bool    `json:"async,omitempty"`
	StatusMessage *string `json:"statusMessage,omitempty"`
}

// EventLabel is an event's name in keys and hashes: "PreToolUse" →
// "pre_tool_use".
func EventLabel(event string) string {
	var b strings.Builder
	for i, r := range event {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// HookHash is Codex's trust hash of a command handler of event (its name
// in hooks.json, "PreToolUse") in a group with matcher (nil: none).
func HookHash(event string, matcher *string, h Handler) string {
	label := EventLabel(event)
	timeout := uint64(600)
	if label == "session_end" || label == "interrupt" {
		timeout = 1
	}
	if h.Timeout != nil {
		timeout = *h.Timeout
	}
	timeout = max(timeout, 1)
	if label == "session_end" || label == "interrupt" {
		timeout = min(timeout, 3)
	}
	handler := map[string]any{"type": "command", "command": h.Command, "timeout": timeout, "async": h.Async}
	if h.StatusMessage != nil {
		handler["statusMessage"] = *h.StatusMessage
	}
	id := map[string]any{"event_name": label, "hooks": []any{handler}}
	switch label {
	case "user_prompt_submit", "stop", "interrupt":
	default:
		if matcher != nil {
			id["matcher"] = *matcher
		}
	}
	// encoding/json sorts map keys and writes no spaces: Codex's canonical form.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(id); err != nil {
		panic(err) // strings, numbers and booleans only
	}
	sum := sha256.Sum256(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// FileHook is one handler of ours in a hooks.json, with its trust as
// config.toml records it.
type FileHook struct {
	Key         string
	Event       string
	CurrentHash string
	TrustedHash string // "" when config.toml holds none for Key
	Disabled    bool   // hooks.state says enabled = false
}

// Trusted reports whether Codex would run the handler.
func (h FileHook) Trusted() bool { return h.TrustedHash == h.CurrentHash && !h.Disabled }

// FileTrust reads the hooks.json at path (a user's: Codex's own key names
// it by this path) and the user's config.toml, and returns every command
// handler that runs command with what hooks.state says of it. It runs
// nothing: a cheap check, exact for the Codex version above.
func FileTrust(path, configPath, command string) ([]FileHook, error) {
	raw, err := readSmall(path)
	if err != nil {
		return nil, err
	}
	var file struct {
		Hooks map[string][]struct {
			Matcher *string           `json:"matcher"`
			Hooks   []json.RawMessage `json:"hooks"`
		} `json:"hooks"`
	}
	if err := json.Unmarshal(bytes.TrimPrefix(raw, []byte("\ufeff")), &file); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	state, err := hookState(configPath)
	if err != nil {
		return nil, err
	}
	var out []FileHook
	for event, groups := range file.Hooks {
		for gi, g := range groups {
			for hi, rawHandler := range g.Hooks {
				var h Handler
				if json.Unmarshal(rawHandler, &h) != nil || h.Type != "command" || h.Command != command {
					continue
				}
				fh := FileHook{Key: path + ":" + EventLabel(event) + ":" + strconv.Itoa(gi) + ":" + strconv.Itoa(hi),
					Event: event, CurrentHash: HookHash(event, g.Matcher, h)}
				if st, ok := state[fh.Key]; ok {
					fh.TrustedHash = st.TrustedHash
					fh.Disabled = st.Enabled != nil && !*st.Enabled
				}
				out = append(out, fh)
			}
		}
	}
	return out, nil
}

type hookStateEntry struct {
	TrustedHash string `toml:"trusted_hash"`
	Enabled     *bool  `toml:"enabled"`
}

// hookState reads config.toml's [hooks.state]; a missing file holds none.
func hookState(configPath string) (map[string]hookStateEntry, error) {
	var cfg struct {
		Hooks struct {
			State map[string]hookStateEntry `toml:"state"`
		} `toml:"hooks"`
	}
	raw, err := readSmall(configPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if _, err := toml.Decode(string(raw), &cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", configPath, err)
	}
	return cfg.Hooks.State, nil
}

// maxFile bounds the settings files we read.
const maxFile = 4 << 20

// readSmall reads a regular file (never a FIFO or a device) of at most
// maxFile bytes.
func readSmall(path string) ([]byte, error) {
	f, _, err := regular.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) > maxFile {
		return nil, fmt.Errorf("%s is larger than %d MiB", path, maxFile>>20)
	}
	return b, nil
}
