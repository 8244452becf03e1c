package claudecli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// recorderScript saves each hook's stdin (and environment) as one file, so
// hooks that run in parallel never interleave. Prints nothing, exits 0.
const recorderScript = `#!/bin/sh
d="$1"
n="$(date +%s%N 2>/dev/null)"
case "$n" in *N*|"") n="$(date +%s)000000000";; esac
f="$d/$n-$$"
cat > "$f.tmp"
env > "$f.env"
mv "$f.tmp" "$f.json"
exit 0
`

// HookRecorder is a tiny hook command that stores every payload it gets.
type HookRecorder struct {
	Script string // absolute path of the hook command
	Dir    string // where payloads land
}

// NewHookRecorder writes the recorder script into a temp dir.
func NewHookRecorder(t testing.TB) *HookRecorder {
	t.Helper()
	base := t.TempDir()
	h := &HookRecorder{Script: filepath.Join(base, "record-hook.sh"), Dir: filepath.Join(base, "payloads")}
	if err := os.MkdirAll(h.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(h.Script, []byte(recorderScript), 0o755); err != nil {
		t.Fatal(err)
	}
	return h
}

// Apply sets o's hook command to the recorder (exec form: command + args).
func (h *HookRecorder) Apply(o *Options) {
	o.HookCommand = h.Script
	o.HookArgs = []string{h.Dir}
}

// HookEvent is one recorded hook invocation.
type HookEvent struct {
	Name    string // hook_event_name
	Payload map[string]any
	Raw     []byte
	Env     map[string]string // the hook process's environment
	File    string
}

// Str returns a top-level payload field as a string ("" when absent).
func (e HookEvent) Str(k string) string {
	v, ok := e.Payload[k]
	if !ok || v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// Keys are the payload's top-level field names, sorted.
func (e HookEvent) Keys() []string {
	var ks []string
	for k := range e.Payload {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Events reads the recorded payloads in the order the hooks started.
func (h *HookRecorder) Events() ([]HookEvent, error) {
	files, err := filepath.Glob(filepath.Join(h.Dir, "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Slice(files, func(i, j int) bool { return fileKey(files[i]) < fileKey(files[j]) })
	var out []HookEvent
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		ev := HookEvent{Raw: raw, File: f, Env: map[string]string{}}
		if err := json.Unmarshal(raw, &ev.Payload); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		ev.Name, _ = ev.Payload["hook_event_name"].(string)
		if envb, err := os.ReadFile(strings.TrimSuffix(f, ".json") + ".env"); err == nil {
			for _, line := range strings.Split(string(envb), "\n") {
				if k, v, ok := strings.Cut(line, "="); ok {
					ev.Env[k] = v
				}
			}
		}
		out = append(out, ev)
	}
	return out, nil
}

// fileKey sorts "<ns>-<pid>.json" numerically by ns.
func fileKey(f string) string {
	b := filepath.Base(f)
	ns, rest, _ := strings.Cut(b, "-")
	return fmt.Sprintf("%020s-%s", ns, rest)
}

// Names lists the event names in order.
func Names(evs []HookEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Name
	}
	return out
}

// Filter returns the events named name.
func Filter(evs []HookEvent, name string) []HookEvent {
	var out []HookEvent
	for _, e := range evs {
		if e.Name == name {
			out = append(out, e)
		}
	}
	return out
}
