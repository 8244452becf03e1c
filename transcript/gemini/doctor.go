package gemini

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/weave-agentd/weave-agentd/hooks/hookconfig"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// What doctor reads of Gemini CLI 0.61.0's settings (its settings schema,
// packages/cli/src/config/settingsSchema.ts, and the code that uses them):
//
//   - hooksConfig.enabled (default true): "When disabled, no hooks will be
//     executed";
//   - hooksConfig.disabled: hook names (a command hook's name, else its
//     command) that are loaded but never run; `/hooks disable` adds to it;
//   - general.sessionRetention {enabled (default true), maxAge (default
//     "30d"), maxCount, minRetention (default "1d")}: at every start, Gemini
//     CLI deletes the project's chat files last updated before now-maxAge,
//     and all but the maxCount most recent ones (sessionCleanup.ts). A
//     maxAge that does not parse or is below minRetention, or a maxCount
//     below 1, turns the cleanup off;
//   - <home>/trustedFolders.json: Gemini CLI runs no hooks at all, not even
//     the user's, in a folder it does not trust (hookRegistry.ts).
//
// The settings are merged as schema defaults < system defaults < user <
// workspace < system (settings.ts). A workspace's <folder>/.gemini/settings.json
// (not read in the user's home folder, whose .gemini holds the user's) can
// turn hooks off for that project; its "hooks" add to ours (every event's
// list is concatenated), they cannot replace them. Doctor reads it for the
// current folder and the projects Gemini CLI knows (<home>/projects.json).

// MinRetention is the retention below which doctor warns: shorter than a
// long weekend with the daemon down, or than a backfill would need.
const MinRetention = 7 * 24 * time.Hour

// MinSessionCount is the general.sessionRetention.maxCount below which
// doctor warns: a busy project starts tens of sessions a day.
const MinSessionCount = 50

// settings is the part of a Gemini CLI settings file doctor reads. Fields
// are pointers: unset keeps the value of a lower scope.
type settings struct {
	HooksConfig struct {
		Enabled  *bool    `json:"enabled"`
		Disabled []string `json:"disabled"`
	} `json:"hooksConfig"`
	General struct {
		SessionRetention struct {
			Enabled      *bool    `json:"enabled"`
			MaxAge       *string  `json:"maxAge"`
			MaxCount     *float64 `json:"maxCount"`
			MinRetention *string  `json:"minRetention"`
		} `json:"sessionRetention"`
	} `json:"general"`
}

// settingsFile is one scope's file: ok when it exists and decodes.
type settingsFile struct {
	path string
	s    settings
	ok   bool
	err  error // it exists but does not decode
}

// scopeSystem is the index of system settings in scopes' result.
const scopeSystem = 2

// scopes reads Gemini CLI's settings files whose values override each
// other, lowest first: system defaults, the user's (<home>/settings.json),
// system settings (workspace settings come between the last two).
func scopes(home string) []settingsFile {
	system := systemSettingsPath()
	defaults := os.Getenv("GEMINI_CLI_SYSTEM_DEFAULTS_PATH")
	if defaults == "" {
		defaults = filepath.Join(filepath.Dir(system), "system-defaults.json")
	}
	return []settingsFile{readSettingsFile(defaults), readSettingsFile(filepath.Join(home, "settings.json")), readSettingsFile(system)}
}

// systemSettingsPath is getSystemSettingsPath() of Gemini CLI.
func systemSettingsPath() string {
	if p := os.Getenv("GEMINI_CLI_SYSTEM_SETTINGS_PATH"); p != "" {
		return p
	}
	switch runtime.GOOS {
	case "darwin":
		return "/Library/Application Support/GeminiCli/settings.json"
	case "windows":
		return `C:\ProgramData\gemini-cli\settings.json`
	}
	return "/etc/gemini-cli/settings.json"
}

func readSettingsFile(path string) settingsFile {
	f := settingsFile{path: path}
	b := readSmall(path, 4<<20)
	if b == nil {
		return f
	}
	b = bytes.TrimPrefix(b, []byte("\ufeff"))
	if len(bytes.TrimSpace(b)) == 0 {
		return f
	}
	if err := json.Unmarshal(stripComments(b), &f.s); err != nil {
		f.err = err
		return f
	}
	f.ok = true
	return f
}

// stripComments blanks // and /* */ comments outside strings, as Gemini
// CLI does (strip-json-comments) before parsing its settings; offsets and
// line numbers stay those of the file.
func stripComments(b []byte) []byte {
	out := bytes.Clone(b)
	inString := false
	for i := 0; i < len(out); i++ {
		c := out[i]
		switch {
		case inString:
			if c == '\\' {
				i++
			} else if c == '"' {
				inString = false
			}
		case c == '"':
			inString = true
		case c == '/' && i+1 < len(out) && out[i+1] == '/':
			for ; i < len(out) && out[i] != '\n'; i++ {
				out[i] = ' '
			}
		case c == '/' && i+1 < len(out) && out[i+1] == '*':
			end := bytes.Index(out[i+2:], []byte("*/"))
			stop := len(out)
			if end >= 0 {
				stop = i + 2 + end + 2
			}
			for ; i < stop; i++ {
				if out[i] != '\n' {
					out[i] = ' '
				}
			}
			i--
		}
	}
	return out
}

// CheckHooks: hooksConfig.enabled false turns every hook off, and
// hooksConfig.disabled our own, in the user's or system settings or in a
// project's; folders marked DO_NOT_TRUST run none. The
// spans still come from the chat files (Gemini CLI's hooks only end turns
// sooner), so these are warnings.
func (Agent) CheckHooks(home string) []transcript.Finding {
	if _, err := os.Stat(home); err != nil {
		return nil // no Gemini CLI here
	}
	var fs []transcript.Finding
	var enabled *bool
	var enabledIn string
	systemSets := false // system settings set hooksConfig.enabled: no project's counts
	for i, f := range scopes(home) {
		if f.err != nil {
			fs = append(fs, transcript.Finding{Warn: true,
				Message: fmt.Sprintf("Gemini CLI settings %s do not parse: %v", f.path, f.err),
				Fix:     "fix the JSON of " + f.path + " (Gemini CLI refuses to start with it too)"})
			continue
		}
		if !f.ok {
			continue
		}
		if e := f.s.HooksConfig.Enabled; e != nil {
			enabled, enabledIn = e, f.path
			systemSets = i == scopeSystem
		}
		for _, name := range f.s.HooksConfig.Disabled {
			if _, ours := hookconfig.OurBinary(name); ours {
				fs = append(fs, transcript.Finding{Warn: true,
					Message: fmt.Sprintf("Gemini CLI skips our hook %q (listed in hooksConfig.disabled in %s): turns end only after the idle timeout", name, f.path),
					Fix:     "remove it from hooksConfig.disabled in " + f.path + " (or /hooks enable in Gemini CLI)"})
			}
		}
	}
	if enabled != nil && !*enabled {
		fs = append(fs, transcript.Finding{Warn: true,
			Message: "Gemini CLI runs no hooks (\"hooksConfig\": {\"enabled\": false} in " + enabledIn + "): only its chat files trace its sessions, turns end after the idle timeout",
			Fix:     "remove hooksConfig.enabled from " + enabledIn + " (or set it to true)"})
	}
	fs = append(fs, projectFindings(home, systemSets)...)
	if dirs := untrustedFolders(home); len(dirs) > 0 {
		fs = append(fs, transcript.Finding{Warn: true,
			Message: "Gemini CLI runs no hooks in folders it does not trust (DO_NOT_TRUST in " + filepath.Join(home, "trustedFolders.json") + "): " + strings.Join(dirs, ", "),
			Fix:     "trust them in Gemini CLI (/permissions) if their sessions should end turns on time"})
	}
	return fs
}

// maxProjects bounds how many projects' settings doctor reads.
const maxProjects = 1000

// projectFindings: a project's .gemini/settings.json that does not parse,
// turns hooks off (unless system settings set hooksConfig.enabled, which
// override it) or lists our hook in hooksConfig.disabled.
func projectFindings(home string, systemSets bool) []transcript.Finding {
	var fs []transcript.Finding
	for _, dir := range projectDirs(home) {
		f := readSettingsFile(filepath.Join(dir, ".gemini", "settings.json"))
		switch {
		case f.err != nil:
			fs = append(fs, transcript.Finding{Warn: true,
				Message: fmt.Sprintf("Gemini CLI settings %s do not parse: %v", f.path, f.err),
				Fix:     "fix the JSON of " + f.path + " (Gemini CLI refuses to start in " + dir + " with it too)"})
			continue
		case !f.ok:
			continue
		}
		if e := f.s.HooksConfig.Enabled; e != nil && !*e && !systemSets {
			fs = append(fs, transcript.Finding{Warn: true,
				Message: "Gemini CLI runs no hooks in " + dir + " (\"hooksConfig\": {\"enabled\": false} in " + f.path + "): only its chat files trace its sessions there, turns end after the idle timeout",
				Fix:     "remove hooksConfig.enabled from " + f.path + " (or set it to true)"})
		}
		for _, name := range f.s.HooksConfig.Disabled {
			if _, ours := hookconfig.OurBinary(name); ours {
				fs = append(fs, transcript.Finding{Warn: true,
					Message: fmt.Sprintf("Gemini CLI skips our hook %q in %s (listed in hooksConfig.disabled in %s): turns end there only after the idle timeout", name, dir, f.path),
					Fix:     "remove it from hooksConfig.disabled in " + f.path})
			}
		}
	}
	return fs
}

// projectDirs are the folders whose workspace settings Gemini CLI would
// read: the current one and those of <home>/projects.json (at most
// maxProjects, sorted), less the one whose .gemini is home itself.
func projectDirs(home string) []string {
	var dirs []string
	if wd, err := os.Getwd(); err == nil {
		dirs = append(dirs, wd)
	}
	var reg struct {
		Projects map[string]any `json:"projects"`
	}
	if b := readSmall(filepath.Join(home, "projects.json"), 4<<20); b != nil && json.Unmarshal(b, &reg) == nil {
		known := make([]string, 0, len(reg.Projects))
		for dir := range reg.Projects {
			if filepath.IsAbs(dir) {
				known = append(known, filepath.Clean(dir))
			}
		}
		slices.Sort(known)
		dirs = append(dirs, known[:min(len(known), maxProjects)]...)
	}
	slices.Sort(dirs)
	dirs = slices.Compact(dirs)
	return slices.DeleteFunc(dirs, func(dir string) bool {
		return filepath.Clean(filepath.Join(dir, ".gemini")) == filepath.Clean(home)
	})
}

// untrustedFolders lists the folders <home>/trustedFolders.json marks
// DO_NOT_TRUST, sorted.
func untrustedFolders(home string) []string {
	b := readSmall(filepath.Join(home, "trustedFolders.json"), 4<<20)
	var rules map[string]any
	if b == nil || json.Unmarshal(stripComments(bytes.TrimPrefix(b, []byte("\ufeff"))), &rules) != nil {
		return nil
	}
	var dirs []string
	for dir, level := range rules {
		if level == "DO_NOT_TRUST" {
			dirs = append(dirs, dir)
		}
	}
	slices.Sort(dirs)
	return dirs
}

// retentionRE is Gemini CLI's parseRetentionPeriod.
var retentionRE = regexp.MustCompile(`^(\d+)([dhwm])$`)

// parseRetention parses "30d", "24h", "1w", "1m" (30 days); false when it
// does not parse or is zero, as Gemini CLI refuses it.
func parseRetention(s string) (time.Duration, bool) {
	m := retentionRE.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n == 0 {
		return 0, false
	}
	unit := map[string]time.Duration{"h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour, "m": 30 * 24 * time.Hour}[m[2]]
	return time.Duration(n) * unit, true
}

// CheckTranscripts: general.sessionRetention deletes chat files at each
// start of Gemini CLI (30 days by default).
func (Agent) CheckTranscripts(home string) []transcript.Finding {
	if _, err := os.Stat(home); err != nil {
		return nil
	}
	enabled, maxAge, minRetention := true, "30d", "1d"
	var maxCount *float64
	var setIn []string // the files that set a key
	for _, f := range scopes(home) {
		if !f.ok {
			continue
		}
		r := f.s.General.SessionRetention
		set := false
		if r.Enabled != nil {
			enabled, set = *r.Enabled, true
		}
		if r.MaxAge != nil {
			maxAge, set = *r.MaxAge, true
		}
		if r.MaxCount != nil {
			maxCount, set = r.MaxCount, true
		}
		if r.MinRetention != nil {
			minRetention, set = *r.MinRetention, true
		}
		if set {
			setIn = append(setIn, f.path)
		}
	}
	where := "default general.sessionRetention"
	if len(setIn) > 0 {
		where = "general.sessionRetention in " + strings.Join(setIn, ", ")
	}
	keeps := []transcript.Finding{{Message: "Gemini CLI keeps chat files until they are deleted (" + where + " turns its cleanup off)"}}
	if !enabled {
		return keeps
	}
	age, ageOK := parseRetention(maxAge)
	if maxAge != "" && !ageOK {
		return keeps // an invalid maxAge turns the cleanup off
	}
	minAge, ok := parseRetention(minRetention)
	if !ok {
		minAge = 24 * time.Hour
	}
	if ageOK && age < minAge || maxCount != nil && *maxCount < 1 || !ageOK && maxCount == nil {
		return keeps
	}
	var fs []transcript.Finding
	if ageOK && age < MinRetention {
		fs = append(fs, transcript.Finding{Warn: true,
			Message: fmt.Sprintf("Gemini CLI deletes chat files not updated for %s (%s): a daemon down longer, or a backfill, finds them gone", maxAge, where),
			Fix:     `set general.sessionRetention.maxAge to "30d" or more in Gemini CLI's settings.json`})
	}
	if maxCount != nil && *maxCount < MinSessionCount {
		fs = append(fs, transcript.Finding{Warn: true,
			Message: fmt.Sprintf("Gemini CLI keeps only the %v most recent chat files of each project (maxCount, %s): a backfill may find older sessions gone", *maxCount, where),
			Fix:     fmt.Sprintf("remove general.sessionRetention.maxCount from Gemini CLI's settings.json, or set it to %d or more", MinSessionCount)})
	}
	if len(fs) > 0 {
		return fs
	}
	msg := "Gemini CLI keeps chat files for " + maxAge
	if !ageOK {
		msg = "Gemini CLI keeps chat files without an age limit"
	}
	if maxCount != nil {
		msg += fmt.Sprintf(", the %v most recent of each project", *maxCount)
	}
	return []transcript.Finding{{Message: msg + " (" + where + ")"}}
}
