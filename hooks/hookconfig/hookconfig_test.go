package hookconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/*.golden")

// A user's settings.json as Claude Code and its users write it: other keys,
// a formatter hook on PostToolUse, a notifier on Stop, a status line.
const userClaudeSettings = `{
  "$schema": "https://json.schemastore.org/claude-code-settings.json",
  "model": "opus",
  "permissions": {
    "allow": ["Bash(go test:*)", "Read(~/.zshrc)"],
    "deny": ["Read(./.env)"]
  },
  "env": {"FOO": "b\u00e4r", "BIG": 1e3},
  "hooks": {
    "PostToolUse": [
      {
        "matcher": "Edit|Write",
        "hooks": [
          {"type": "command", "command": "gofmt -w \"$CLAUDE_PROJECT_DIR\"", "timeout": 30}
        ]
      }
    ],
    "Stop": [
      {"hooks": [{"type": "command", "command": "notify-send done"}]}
    ],
    "WorktreeCreate": [
      {"hooks": [{"type": "command", "command": "/usr/local/bin/mkwt"}]}
    ]
  },
  "statusLine": {"type": "command", "command": "~/.claude/statusline.sh"},
  "cleanupPeriodDays": 30
}
`

// Our entries from an earlier install whose binary has since moved, one of
// them sharing a matcher group with the user's own handler, plus a duplicate.
const movedBinarySettings = `{
    "hooks": {
        "SessionStart": [
            {"hooks": [{"type": "command", "command": "/old/checkout/bin/weave-agentd-hook claude", "timeout": 5}]}
        ],
        "PostToolUse": [
            {
                "matcher": "*",
                "hooks": [
                    {"type": "command", "command": "/usr/bin/audit-tool"},
                    {"type": "command", "command": "/old/checkout/bin/weave-agentd-hook claude", "timeout": 5}
                ]
            },
            {"matcher": "*", "hooks": [{"type": "command", "command": "/old/checkout/bin/weave-agentd-hook claude"}]}
        ],
        "MessageDisplay": [
            {"hooks": [{"type": "command", "command": "/old/checkout/bin/weave-agentd-hook claude"}]}
        ]
    }
}
`

// geminiWithOthers is Gemini CLI settings as the 0.61.0 captures had them:
// other keys, hooks on, a user's own handlers (timeouts in milliseconds).
const geminiWithOthers = `{
  "security": {"auth": {"selectedType": "gemini-api-key"}},
  "model": {"name": "gemini-2.5-flash"},
  "hooksConfig": {"enabled": true},
  "hooks": {
    "BeforeTool": [
      {"matcher": "run_shell_command", "hooks": [{"name": "audit", "type": "command", "command": "/usr/local/bin/audit", "timeout": 10000}]}
    ],
    "AfterModel": [
      {"hooks": [{"type": "command", "command": "/usr/local/bin/log-model", "timeout": 10000}]}
    ]
  }
}
`

const cursorWithOthers = `{
  "version": 1,
  "hooks": {
    "beforeShellExecution": [{"command": "./hooks/guard.sh", "matcher": "rm -rf"}],
    "afterFileEdit": [{"command": "./hooks/format.sh"}],
    "stop": [{"command": "./audit.sh", "loop_limit": 10}]
  }
}
`

const hookBin = "/home/u/.local/state/weave-agentd/bin/weave-agentd-hook"

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name+".golden")
	if *updateGolden {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// perEvent counts our handlers per event.
func perEvent(t *testing.T, agent Agent, doc []byte) map[string]int {
	t.Helper()
	es, err := entries(agent, doc)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int{}
	for _, e := range es {
		m[e.Event]++
	}
	return m
}

// withoutOurs returns doc with our handlers removed, re-encoded: what the
// user had must survive any install unchanged in meaning and order.
func withoutOurs(t *testing.T, agent Agent, doc []byte) string {
	t.Helper()
	out, err := edit(agent, doc, nil, Spec{HookBinary: "/x/" + HookBinaryName})
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func compact(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestInstallShapes(t *testing.T) {
	old, _ := ParseVersion("1.0.60")
	oldEvents, _ := ClaudeEvents(old)
	cases := []struct {
		name    string
		agent   Agent
		initial *string // nil: no file
		events  []string
		mode    os.FileMode
	}{
		{name: "claude-missing", agent: Claude},
		{name: "claude-empty", agent: Claude, initial: ptr(""), mode: 0o644},
		{name: "claude-empty-object", agent: Claude, initial: ptr("{}\n"), mode: 0o600},
		{name: "claude-user-settings", agent: Claude, initial: ptr(userClaudeSettings), mode: 0o644},
		{name: "claude-moved-binary", agent: Claude, initial: ptr(movedBinarySettings), mode: 0o640},
		{name: "claude-old-version", agent: Claude, initial: ptr(userClaudeSettings), events: oldEvents, mode: 0o644},
		{name: "cursor-missing", agent: Cursor},
		{name: "cursor-with-others", agent: Cursor, initial: ptr(cursorWithOthers), mode: 0o644},
		{name: "codex-missing", agent: Codex},
		{name: "gemini-missing", agent: Gemini},
		{name: "gemini-with-others", agent: Gemini, initial: ptr(geminiWithOthers), mode: 0o600},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "cfg", "settings.json")
			if tc.initial != nil {
				os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, []byte(*tc.initial), tc.mode); err != nil {
					t.Fatal(err)
				}
				os.Chmod(p, tc.mode)
			}
			spec := Spec{HookBinary: hookBin, Events: tc.events}
			res, err := Install(p, tc.agent, spec)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Changed {
				t.Fatal("first install did not change the file")
			}
			got := readFile(t, p)
			golden(t, tc.name, got)

			// Mode kept (0600 for new files), backup of the previous bytes.
			fi, _ := os.Stat(p)
			wantMode := tc.mode
			if tc.initial == nil {
				wantMode = 0o600
			}
			if fi.Mode().Perm() != wantMode {
				t.Errorf("mode %v, want %v", fi.Mode().Perm(), wantMode)
			}
			if tc.initial != nil {
				if b := readFile(t, p+BackupSuffix); string(b) != *tc.initial {
					t.Errorf("backup holds %q", b)
				}
				if res.Backup != p+BackupSuffix {
					t.Errorf("Backup = %q", res.Backup)
				}
			} else if _, err := os.Stat(p + BackupSuffix); err == nil {
				t.Error("backup written for a new file")
			}

			// Exactly one of ours per wanted event, none elsewhere.
			want := tc.events
			if want == nil {
				want, _ = Events(tc.agent, Version{})
			}
			counts := perEvent(t, tc.agent, got)
			if len(counts) != len(want) {
				t.Errorf("our events %v, want %v", counts, want)
			}
			for _, e := range want {
				if counts[e] != 1 {
					t.Errorf("%s: %d entries of ours", e, counts[e])
				}
			}

			// Everything else means what it meant, in the same order.
			if tc.initial != nil && strings.TrimSpace(*tc.initial) != "" {
				if a, b := withoutOurs(t, tc.agent, []byte(*tc.initial)), withoutOurs(t, tc.agent, got); a != b {
					t.Errorf("user content changed:\nbefore %s\nafter  %s", a, b)
				}
			}

			// Idempotent: a second install writes nothing.
			res2, err := Install(p, tc.agent, spec)
			if err != nil {
				t.Fatal(err)
			}
			if res2.Changed || len(res2.Stale) != 0 {
				t.Errorf("second install: %+v", res2)
			}
			if again := readFile(t, p); !bytes.Equal(again, got) {
				t.Errorf("second install changed the file:\n%s", again)
			}

			st, err := Inspect(p, tc.agent, spec)
			if err != nil {
				t.Fatal(err)
			}
			if len(st.Missing)+len(st.Extra)+len(st.Duplicates) != 0 || !st.Current {
				t.Errorf("status after install: %+v", st)
			}
			if len(st.BinaryMissing) != 1 { // hookBin is not a real file here
				t.Errorf("BinaryMissing = %v", st.BinaryMissing)
			}

			// Uninstall leaves exactly the user's content.
			ures, err := Uninstall(p, tc.agent)
			if err != nil {
				t.Fatal(err)
			}
			if !ures.Changed || len(ures.Events) != 0 {
				t.Errorf("uninstall: %+v", ures)
			}
			after := readFile(t, p)
			golden(t, tc.name+".uninstalled", after)
			if n := len(perEvent(t, tc.agent, after)); n != 0 {
				t.Errorf("%d events still ours after uninstall", n)
			}
			if tc.initial != nil && strings.TrimSpace(*tc.initial) != "" {
				if a, b := withoutOurs(t, tc.agent, []byte(*tc.initial)), compact(t, string(after)); a != b {
					t.Errorf("uninstall left\n%s\nwant\n%s", b, a)
				}
			}
			leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(p), ".*weave-agentd-*"))
			if len(leftovers) > 0 {
				t.Errorf("temporary files left: %v", leftovers)
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestUserSettingsOrderAndOthersKept(t *testing.T) {
	p := filepath.Join(t.TempDir(), "settings.json")
	os.WriteFile(p, []byte(userClaudeSettings), 0o644)
	if _, err := Install(p, Claude, Spec{HookBinary: hookBin}); err != nil {
		t.Fatal(err)
	}
	got := readFile(t, p)
	root, err := parseObject(got)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, m := range root {
		keys = append(keys, m.key)
	}
	wantKeys := []string{"$schema", "model", "permissions", "env", "hooks", "statusLine", "cleanupPeriodDays"}
	if !reflect.DeepEqual(keys, wantKeys) {
		t.Errorf("top-level keys %v, want %v", keys, wantKeys)
	}
	// The escaped string and the number spelling are carried as written.
	if !bytes.Contains(got, []byte(`"b\u00e4r"`)) || !bytes.Contains(got, []byte(`1e3`)) {
		t.Errorf("raw values re-encoded:\n%s", got)
	}
	// The user's PostToolUse group stays first; ours follows.
	var doc struct {
		Hooks map[string][]struct {
			Matcher string `json:"matcher"`
			Hooks   []struct {
				Command string `json:"command"`
			} `json:"hooks"`
		} `json:"hooks"`
	}
	json.Unmarshal(got, &doc)
	ptu := doc.Hooks["PostToolUse"]
	if len(ptu) != 2 || ptu[0].Matcher != "Edit|Write" || ptu[1].Matcher != "*" || ptu[1].Hooks[0].Command != hookBin {
		t.Errorf("PostToolUse = %+v", ptu)
	}
	if len(doc.Hooks["WorktreeCreate"]) != 1 || doc.Hooks["WorktreeCreate"][0].Hooks[0].Command != "/usr/local/bin/mkwt" {
		t.Errorf("WorktreeCreate touched: %+v", doc.Hooks["WorktreeCreate"])
	}
}

func TestMovedBinaryReplacedInPlace(t *testing.T) {
	p := filepath.Join(t.TempDir(), "settings.json")
	os.WriteFile(p, []byte(movedBinarySettings), 0o600)
	res, err := Install(p, Claude, Spec{HookBinary: hookBin})
	if err != nil {
		t.Fatal(err)
	}
	// SessionStart, the shared PostToolUse entry, the duplicate and the
	// MessageDisplay entry (an event we never register) were all stale.
	if len(res.Stale) != 4 {
		t.Errorf("stale = %+v", res.Stale)
	}
	got := readFile(t, p)
	if bytes.Contains(got, []byte("/old/checkout")) {
		t.Errorf("old binary still referenced:\n%s", got)
	}
	if bytes.Contains(got, []byte("MessageDisplay")) {
		t.Errorf("MessageDisplay kept although it only held ours:\n%s", got)
	}
	var doc struct {
		Hooks map[string][]struct {
			Hooks []struct{ Command string } `json:"hooks"`
		} `json:"hooks"`
	}
	json.Unmarshal(got, &doc)
	ptu := doc.Hooks["PostToolUse"]
	if len(ptu) != 1 || len(ptu[0].Hooks) != 2 || ptu[0].Hooks[0].Command != "/usr/bin/audit-tool" || ptu[0].Hooks[1].Command != hookBin {
		t.Errorf("shared group not edited in place: %+v", ptu)
	}
	// The 4-space indentation of the file is kept.
	if !bytes.Contains(got, []byte("\n    \"hooks\": {")) {
		t.Errorf("indentation not kept:\n%s", got)
	}
}

func TestInvalidJSONUntouched(t *testing.T) {
	for _, body := range []string{
		"{\n  \"hooks\": {\n    \"Stop\": [\n  }\n", // truncated
		`{"a": 1,}`, // trailing comma
		`// comment` + "\n{}",
		`[1, 2]`, // valid JSON but not an object
		`{"hooks": []}`,
		`{"hooks": {"SessionStart": {"hooks": []}}}`,
	} {
		dir := t.TempDir()
		p := filepath.Join(dir, "settings.json")
		os.WriteFile(p, []byte(body), 0o644)
		_, err := Install(p, Claude, Spec{HookBinary: hookBin})
		if err == nil {
			t.Errorf("%q: no error", body)
			continue
		}
		if !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "untouched") {
			t.Errorf("%q: unclear error %v", body, err)
		}
		if got := readFile(t, p); string(got) != body {
			t.Errorf("%q: file changed to %q", body, got)
		}
		files, _ := os.ReadDir(dir)
		if len(files) != 1 {
			t.Errorf("%q: extra files %v", body, files)
		}
		if _, err := Uninstall(p, Claude); err == nil && !strings.Contains(body, "SessionStart") {
			t.Errorf("%q: uninstall did not refuse", body)
		}
		if got := readFile(t, p); string(got) != body {
			t.Errorf("%q: uninstall changed the file to %q", body, got)
		}
	}
	var ije *InvalidJSONError
	p := filepath.Join(t.TempDir(), "hooks.json")
	os.WriteFile(p, []byte("{\n\"version\": 1,\n\"hooks\": {,}\n}"), 0o644)
	_, err := Install(p, Cursor, Spec{HookBinary: hookBin})
	if !errors.As(err, &ije) || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("err = %v, want an InvalidJSONError naming line 3", err)
	}
}

func TestProjectScopePaths(t *testing.T) {
	home := t.TempDir()
	proj := t.TempDir()
	cases := []struct {
		agent   Agent
		home    string // the agent's home
		project string
		want    string
	}{
		{Claude, filepath.Join(home, ".claude"), "", filepath.Join(home, ".claude", "settings.json")},
		{Claude, "/opt/claude", proj, filepath.Join(proj, ".claude", "settings.local.json")},
		{Cursor, filepath.Join(home, ".cursor"), "", filepath.Join(home, ".cursor", "hooks.json")},
		{Cursor, filepath.Join(home, ".cursor"), proj, filepath.Join(proj, ".cursor", "hooks.json")},
	}
	for _, c := range cases {
		got, err := Path(c.agent, c.home, c.project)
		if err != nil || got != c.want {
			t.Errorf("Path(%s, %s, %q) = %q, %v; want %q", c.agent, c.home, c.project, got, err, c.want)
		}
		if _, err := Install(got, c.agent, Spec{HookBinary: hookBin}); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(got); err != nil {
			t.Error(err)
		}
	}
	if _, err := Path(Agent{Name: "vim"}, home, ""); err == nil {
		t.Error("Path of an agent without hook settings succeeded")
	}
}

func TestVersionGating(t *testing.T) {
	cases := []struct {
		version string
		want    []string
	}{
		{"1.0.38", []string{"PreToolUse", "PostToolUse", "Stop", "Notification"}},
		{"1.0.62 (Claude Code)", []string{"SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "Stop", "SubagentStop", "PreCompact", "Notification"}},
		{"2.0.43", []string{"SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "Stop", "SubagentStart", "SubagentStop", "PreCompact", "SessionEnd", "Notification"}},
		{"2.1.77", []string{"SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "PostToolUseFailure", "Stop", "SubagentStart", "SubagentStop", "PreCompact", "SessionEnd", "Notification"}},
		{"2.1.291 (Claude Code)", AllClaudeEvents()},
		{"", AllClaudeEvents()}, // unknown: assume recent, never beyond the table
	}
	for _, c := range cases {
		v, _ := ParseVersion(c.version)
		got, err := ClaudeEvents(v)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: %v %v, want %v", c.version, got, err, c.want)
		}
	}
	if _, err := ClaudeEvents(Version{1, 0, 30}); err == nil {
		t.Error("1.0.30 has no hooks, want an error")
	}
	for _, e := range AllClaudeEvents() {
		if e == "MessageDisplay" || e == "WorktreeCreate" {
			t.Errorf("%s must never be registered", e)
		}
	}
	if _, err := Install(filepath.Join(t.TempDir(), "s.json"), Claude, Spec{HookBinary: hookBin, Events: []string{"Stop", "MessageDisplay"}}); err == nil {
		t.Error("an event outside the table was accepted")
	}
	if _, err := Install(filepath.Join(t.TempDir(), "h.json"), Cursor, Spec{HookBinary: hookBin, Events: []string{"preToolUse"}}); err == nil {
		t.Error("a Cursor permission gate was accepted")
	}

	// Upgrading Claude Code adds the new events; downgrading removes them.
	p := filepath.Join(t.TempDir(), "settings.json")
	old, _ := ClaudeEvents(Version{2, 0, 50})
	if _, err := Install(p, Claude, Spec{HookBinary: hookBin, Events: old}); err != nil {
		t.Fatal(err)
	}
	res, err := Install(p, Claude, Spec{HookBinary: hookBin})
	if err != nil || !reflect.DeepEqual(sorted(res.Events), sorted(AllClaudeEvents())) {
		t.Errorf("upgrade: %v %v", res.Events, err)
	}
	res, err = Install(p, Claude, Spec{HookBinary: hookBin, Events: old})
	if err != nil || !reflect.DeepEqual(sorted(res.Events), sorted(old)) || len(res.Stale) != 2 {
		t.Errorf("downgrade: %v stale %v %v", res.Events, res.Stale, err)
	}
}

func sorted(s []string) []string {
	c := append([]string(nil), s...)
	for i := range c {
		for j := i + 1; j < len(c); j++ {
			if c[j] < c[i] {
				c[i], c[j] = c[j], c[i]
			}
		}
	}
	return c
}

func TestCommandQuotingAndRecognition(t *testing.T) {
	spec := Spec{HookBinary: "/Users/me/Library/Application Support/weave-agentd/bin/weave-agentd-hook"}
	cmd := Command(spec)
	if cmd != `'/Users/me/Library/Application Support/weave-agentd/bin/weave-agentd-hook'` {
		t.Errorf("Command = %s", cmd)
	}
	if bin, ok := OurBinary(cmd); !ok || bin != spec.HookBinary {
		t.Errorf("OurBinary(%s) = %q %v", cmd, bin, ok)
	}
	spec.Env = map[string]string{"WEAVE_AGENTD_HOME": "/tmp/w a"}
	cmd = Command(spec)
	if !strings.HasPrefix(cmd, `WEAVE_AGENTD_HOME='/tmp/w a' '/Users`) {
		t.Errorf("Command = %s", cmd)
	}
	for in, want := range map[string]bool{
		"/x/weave-agentd-hook claude":            true,
		"weave-agentd-hook":                      true,
		`"/a b/weave-agentd-hook" cursor`:        true,
		"FOO=1 env BAR=2 /x/weave-agentd-hook":   true,
		`C:\tools\weave-agentd-hook.exe claude`:  true,
		"/x/weave-agentd hook claude":            false,
		"/x/weave-agentd-hook-wrapper":           false,
		"echo /x/weave-agentd-hook":              false,
		"/x/notify; /x/weave-agentd-hook claude": false,
		"":                                       false,
	} {
		if _, ok := OurBinary(in); ok != want {
			t.Errorf("OurBinary(%q) = %v, want %v", in, ok, want)
		}
	}
}

func TestSymlinkBOMAndEmptyHooks(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "dotfiles", "settings.json")
	os.MkdirAll(filepath.Dir(real), 0o755)
	os.WriteFile(real, []byte("\ufeff{\"hooks\": {}}"), 0o644)
	link := filepath.Join(dir, "settings.json")
	if err := os.Symlink(real, link); err != nil {
		t.Skip(err)
	}
	if _, err := Install(link, Claude, Spec{HookBinary: hookBin, Events: []string{"Stop"}}); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
		t.Error("symlink replaced by a file")
	}
	got := readFile(t, real)
	if !bytes.HasPrefix(got, []byte("\ufeff")) {
		t.Error("BOM dropped")
	}
	if _, err := Uninstall(link, Claude); err != nil {
		t.Fatal(err)
	}
	// The hooks object held only ours at this point: it goes.
	if got := readFile(t, real); compact(t, string(got[3:])) != `{}` {
		t.Errorf("after uninstall: %s", got)
	}
	// Uninstall of a missing file creates nothing.
	missing := filepath.Join(dir, "none", "settings.json")
	if res, err := Uninstall(missing, Claude); err != nil || res.Changed {
		t.Errorf("uninstall missing: %+v %v", res, err)
	}
	if _, err := os.Stat(filepath.Dir(missing)); err == nil {
		t.Error("uninstall created a folder")
	}
}

func TestInspect(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin", HookBinaryName)
	os.MkdirAll(filepath.Dir(bin), 0o755)
	os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755)
	p := filepath.Join(dir, "settings.json")

	st, err := Inspect(p, Claude, Spec{HookBinary: bin})
	if err != nil || st.Exists || st.Registered() || st.Summary() != "not registered (no file)" {
		t.Errorf("missing file: %+v %v", st, err)
	}
	if _, err := Install(p, Claude, Spec{HookBinary: bin}); err != nil {
		t.Fatal(err)
	}
	st, _ = Inspect(p, Claude, Spec{HookBinary: bin})
	if !st.Registered() {
		t.Errorf("after install: %+v", st)
	}
	// Another install's binary: registered, but not this install's.
	st, _ = Inspect(p, Claude, Spec{HookBinary: "/elsewhere/" + HookBinaryName})
	if st.Registered() || st.Current || !strings.Contains(st.Summary(), "not this install's") {
		t.Errorf("foreign binary: %+v %s", st, st.Summary())
	}
	// The binary is gone.
	os.Remove(bin)
	st, _ = Inspect(p, Claude, Spec{HookBinary: bin})
	if st.Registered() || len(st.BinaryMissing) != 1 {
		t.Errorf("missing binary: %+v", st)
	}
}

// TestGeminiHandlers: Gemini CLI reads timeouts in milliseconds, runs the
// tool events for every tool with matcher "*", and the command names the
// agent (its payloads look like Claude Code's); never AfterModel nor
// PreCompress.
func TestGeminiHandlers(t *testing.T) {
	p := filepath.Join(t.TempDir(), "settings.json")
	if _, err := Install(p, Gemini, Spec{HookBinary: hookBin}); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Hooks map[string][]struct {
			Matcher string `json:"matcher"`
			Hooks   []struct {
				Command string `json:"command"`
				Timeout int    `json:"timeout"`
			} `json:"hooks"`
		} `json:"hooks"`
	}
	if err := json.Unmarshal(readFile(t, p), &doc); err != nil {
		t.Fatal(err)
	}
	want := []string{"SessionStart", "BeforeAgent", "BeforeTool", "AfterTool", "AfterAgent", "SessionEnd"}
	if len(doc.Hooks) != len(want) {
		t.Fatalf("events %v, want %v", doc.Hooks, want)
	}
	for _, e := range want {
		g := doc.Hooks[e]
		if len(g) != 1 || len(g[0].Hooks) != 1 {
			t.Fatalf("%s: %+v", e, g)
		}
		h := g[0].Hooks[0]
		if h.Timeout != DefaultTimeout*1000 || h.Command != hookBin+" gemini" {
			t.Errorf("%s: handler %+v", e, h)
		}
		if wantM := map[bool]string{true: "*"}[e == "BeforeTool" || e == "AfterTool"]; g[0].Matcher != wantM {
			t.Errorf("%s: matcher %q, want %q", e, g[0].Matcher, wantM)
		}
	}
	for _, e := range []string{"AfterModel", "PreCompress"} {
		if _, err := Install(p, Gemini, Spec{HookBinary: hookBin, Events: []string{e}}); err == nil {
			t.Errorf("%s was accepted", e)
		}
	}
}

// A file that already holds exactly our entries (here: as a previous
// install wrote it) is left alone: no write, no backup.
func TestAlreadyPresentUnchanged(t *testing.T) {
	for _, c := range []struct {
		golden string
		agent  Agent
	}{{"claude-user-settings", Claude}, {"cursor-with-others", Cursor}, {"claude-moved-binary", Claude}, {"gemini-with-others", Gemini}} {
		body, err := os.ReadFile(filepath.Join("testdata", c.golden+".golden"))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), "settings.json")
		os.WriteFile(p, body, 0o644)
		res, err := Install(p, c.agent, Spec{HookBinary: hookBin})
		if err != nil || res.Changed || res.Backup != "" || len(res.Stale) != 0 {
			t.Errorf("%s: %+v %v", c.golden, res, err)
		}
		if got := readFile(t, p); !bytes.Equal(got, body) {
			t.Errorf("%s: rewritten", c.golden)
		}
		if _, err := os.Stat(p + BackupSuffix); err == nil {
			t.Errorf("%s: backup made without a change", c.golden)
		}
	}
}
