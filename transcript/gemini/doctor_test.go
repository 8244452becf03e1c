package gemini

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weave-agentd/weave-agentd/transcript"
)

// doctorHome makes a Gemini CLI home with settings.json (none when
// settings is ""), and points the system settings into the test's folder so
// the machine's own do not count.
func doctorHome(t *testing.T, settings string) (home, system string) {
	t.Helper()
	dir := t.TempDir()
	home = filepath.Join(dir, ".gemini")
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	if settings != "" {
		writeFile(t, filepath.Join(home, "settings.json"), settings)
	}
	system = filepath.Join(dir, "etc", "settings.json")
	t.Setenv("GEMINI_CLI_SYSTEM_SETTINGS_PATH", system)
	t.Setenv("GEMINI_CLI_SYSTEM_DEFAULTS_PATH", "")
	t.Chdir(dir) // the user's home folder: its .gemini is not a project's
	return home, system
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// expect checks the findings: one per want, in order, each with its level
// ("ok", "warn") and a substring of its message.
func expect(t *testing.T, got []transcript.Finding, want ...string) {
	t.Helper()
	if len(got) != len(want)/2 {
		t.Fatalf("%d findings, want %d: %+v", len(got), len(want)/2, got)
	}
	for i, f := range got {
		level, sub := want[2*i], want[2*i+1]
		if (level == "warn") != f.Warn || f.Fail {
			t.Errorf("finding %d: warn=%v fail=%v, want %s: %+v", i, f.Warn, f.Fail, level, f)
		}
		if !strings.Contains(f.Message, sub) {
			t.Errorf("finding %d: %q lacks %q", i, f.Message, sub)
		}
		if f.Warn && f.Fix == "" {
			t.Errorf("finding %d warns without a fix: %+v", i, f)
		}
	}
}

const ourHook = `"/home/dev/.local/bin/weave-agentd-hook" gemini`

// TestCheckHooks: hooksConfig.enabled false (in the user's settings, or in
// system settings over the user's true), our command in
// hooksConfig.disabled and DO_NOT_TRUST folders warn; settings with
// comments are read as Gemini CLI reads them; another hook disabled or a
// trusted folder says nothing.
func TestCheckHooks(t *testing.T) {
	t.Run("no gemini", func(t *testing.T) {
		_, _ = doctorHome(t, "")
		expect(t, Agent{}.CheckHooks(filepath.Join(t.TempDir(), "absent")))
	})
	t.Run("defaults", func(t *testing.T) {
		home, _ := doctorHome(t, "")
		expect(t, Agent{}.CheckHooks(home))
	})
	t.Run("enabled false with comments", func(t *testing.T) {
		home, _ := doctorHome(t, `{
  // hooks off while debugging "x"
  "hooksConfig": { /* the toggle */ "enabled": false },
  "ui": {"theme": "a // b"}
}`)
		expect(t, Agent{}.CheckHooks(home), "warn", `"enabled": false} in `+filepath.Join(home, "settings.json"))
	})
	t.Run("system overrides user", func(t *testing.T) {
		home, system := doctorHome(t, `{"hooksConfig":{"enabled":true}}`)
		writeFile(t, system, `{"hooksConfig":{"enabled":false}}`)
		expect(t, Agent{}.CheckHooks(home), "warn", system)
	})
	t.Run("user overrides system defaults", func(t *testing.T) {
		home, system := doctorHome(t, `{"hooksConfig":{"enabled":true}}`)
		writeFile(t, filepath.Join(filepath.Dir(system), "system-defaults.json"), `{"hooksConfig":{"enabled":false}}`)
		expect(t, Agent{}.CheckHooks(home))
	})
	t.Run("ours disabled", func(t *testing.T) {
		home, _ := doctorHome(t, `{"hooksConfig":{"disabled":["other-hook --x", `+jsonString(ourHook)+`]}}`)
		expect(t, Agent{}.CheckHooks(home), "warn", "skips our hook")
	})
	t.Run("untrusted folders", func(t *testing.T) {
		home, _ := doctorHome(t, "")
		writeFile(t, filepath.Join(home, "trustedFolders.json"), `{"/home/dev/work":"TRUST_FOLDER","/home/dev/b":"DO_NOT_TRUST","/home/dev/a":"DO_NOT_TRUST"}`)
		expect(t, Agent{}.CheckHooks(home), "warn", "/home/dev/a, /home/dev/b")
	})
	t.Run("does not parse", func(t *testing.T) {
		home, _ := doctorHome(t, `{"hooksConfig":{"enabled":false},}`)
		expect(t, Agent{}.CheckHooks(home), "warn", "do not parse")
	})
}

// TestCheckProjectHooks: a project's .gemini/settings.json, in the current
// folder or a project of projects.json, that turns hooks off (unless system
// settings say otherwise), skips ours or does not parse warns, naming the
// project; its own hooks (added to ours) or other settings say nothing.
func TestCheckProjectHooks(t *testing.T) {
	project := func(t *testing.T, settings string) string {
		t.Helper()
		dir := filepath.Join(t.TempDir(), "work")
		writeFile(t, filepath.Join(dir, ".gemini", "settings.json"), settings)
		return dir
	}
	t.Run("current folder turns hooks off", func(t *testing.T) {
		home, _ := doctorHome(t, `{"hooksConfig":{"enabled":true}}`)
		dir := project(t, `{
  // no hooks here
  "hooksConfig": {"enabled": false}
}`)
		t.Chdir(dir)
		expect(t, Agent{}.CheckHooks(home), "warn", "runs no hooks in "+dir+` ("hooksConfig": {"enabled": false} in `+filepath.Join(dir, ".gemini", "settings.json"))
	})
	t.Run("system settings override the project", func(t *testing.T) {
		home, system := doctorHome(t, "")
		writeFile(t, system, `{"hooksConfig":{"enabled":true}}`)
		t.Chdir(project(t, `{"hooksConfig":{"enabled":false}}`))
		expect(t, Agent{}.CheckHooks(home))
	})
	t.Run("known project skips ours", func(t *testing.T) {
		home, _ := doctorHome(t, "")
		dir := project(t, `{"hooksConfig":{"disabled":[`+jsonString(ourHook)+`]}}`)
		other := project(t, `{"hooks":{"AfterAgent":[{"hooks":[{"type":"command","command":"true"}]}]},"hooksConfig":{"enabled":true}}`)
		writeFile(t, filepath.Join(home, "projects.json"), `{"projects":{`+jsonString(dir)+`:"work",`+jsonString(other)+`:"work-1","relative/x":"x"}}`)
		expect(t, Agent{}.CheckHooks(home), "warn", "skips our hook "+jsonString(ourHook)+" in "+dir)
	})
	t.Run("project does not parse", func(t *testing.T) {
		home, _ := doctorHome(t, "")
		dir := project(t, `{"hooksConfig":`)
		writeFile(t, filepath.Join(home, "projects.json"), `{"projects":{`+jsonString(dir)+`:"work"}}`)
		expect(t, Agent{}.CheckHooks(home), "warn", filepath.Join(dir, ".gemini", "settings.json")+" do not parse")
	})
}

func jsonString(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
}

// TestCheckTranscripts: general.sessionRetention as Gemini CLI 0.61.0's
// cleanup applies it: 30 days by default; a short maxAge or a small
// maxCount warns; disabled, or a value that turns the cleanup off, keeps
// the files.
func TestCheckTranscripts(t *testing.T) {
	for _, c := range []struct {
		name, settings, system string
		want                   []string
	}{
		{"no settings", "", "", []string{"ok", "for 30d (default general.sessionRetention)"}},
		{"other settings", `{"general":{"vimMode":true}}`, "", []string{"ok", "for 30d (default"}},
		{"long", `{"general":{"sessionRetention":{"maxAge":"8w"}}}`, "", []string{"ok", "for 8w (general.sessionRetention in "}},
		{"short", `{"general":{"sessionRetention":{"maxAge":"3d"}}}`, "", []string{"warn", "not updated for 3d"}},
		{"hours", `{"general":{"sessionRetention":{"maxAge":"48h"}}}`, "", []string{"warn", "not updated for 48h"}},
		{"off", `{"general":{"sessionRetention":{"enabled":false,"maxAge":"1d"}}}`, "", []string{"ok", "until they are deleted"}},
		{"below minRetention", `{"general":{"sessionRetention":{"maxAge":"2h"}}}`, "", []string{"ok", "until they are deleted"}},
		{"invalid maxAge", `{"general":{"sessionRetention":{"maxAge":"2 days"}}}`, "", []string{"ok", "until they are deleted"}},
		{"small maxCount", `{"general":{"sessionRetention":{"maxCount":5}}}`, "", []string{"warn", "only the 5 most recent"}},
		{"large maxCount", `{"general":{"sessionRetention":{"maxCount":500}}}`, "", []string{"ok", "for 30d, the 500 most recent"}},
		{"count only", `{"general":{"sessionRetention":{"maxAge":"","maxCount":500}}}`, "", []string{"ok", "without an age limit"}},
		{"both short", `{"general":{"sessionRetention":{"maxAge":"2d","maxCount":3}}}`, "", []string{"warn", "not updated for 2d", "warn", "only the 3 most recent"}},
		{"system overrides", `{"general":{"sessionRetention":{"maxAge":"90d"}}}`, `{"general":{"sessionRetention":{"maxAge":"1d"}}}`, []string{"warn", "not updated for 1d"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			home, system := doctorHome(t, c.settings)
			if c.system != "" {
				writeFile(t, system, c.system)
			}
			expect(t, Agent{}.CheckTranscripts(home), c.want...)
		})
	}
}

// TestStripComments: comments go, strings keep their slashes, offsets stay.
func TestStripComments(t *testing.T) {
	in := "{\"a\":\"x//y /*z*/ \\\" // w\", // c\n/* d\n e */ \"b\":1}"
	got := string(stripComments([]byte(in)))
	want := "{\"a\":\"x//y /*z*/ \\\" // w\",     \n    \n      \"b\":1}"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
