package codex

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/weave-agentd/weave-agentd/internal/codexapp"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// Codex CLI runs a hook from hooks.json only once the user has trusted its
// content: config.toml's [hooks.state."<key>"] trusted_hash must equal the
// handler's current hash; an untrusted one is skipped without a word. We
// record that trust as Codex's own /hooks view does, through
// `codex app-server` (internal/codexapp).

var _ transcript.HookTruster = Agent{}

// trustFix is what a user does when the trust could not be recorded.
func trustFix(f transcript.HookFile) string {
	return "weave-agentd hooks install " + f.Flag + " (with codex on PATH), or review them in Codex's /hooks view"
}

// TrustHooks trusts our handlers in f.Path through codex app-server.
func (Agent) TrustHooks(ctx context.Context, f transcript.HookFile) (string, error) {
	o, t, err := appServer(f)
	if err == nil {
		var res codexapp.TrustResult
		if res, err = codexapp.Trust(ctx, o, t); err == nil {
			if res.Trusted == 0 {
				return fmt.Sprintf("Codex already trusts these %d hooks", len(res.Hooks)), nil
			}
			return fmt.Sprintf("trusted in Codex: %d hooks (hooks.state in %s)", res.Trusted, filepath.Join(f.Home, "config.toml")), nil
		}
	}
	return "", fmt.Errorf("Codex skips these hooks until they are trusted (it says nothing), and they could not be trusted: %v; to trust them: %s", err, trustFix(f))
}

// CheckHookTrust asks codex app-server whether it runs our handlers; when
// it cannot be asked, the files tell.
func (a Agent) CheckHookTrust(ctx context.Context, f transcript.HookFile) []transcript.Finding {
	o, t, err := appServer(f)
	var hooks []codexapp.Hook
	if err == nil {
		hooks, err = codexapp.Check(ctx, o, t)
	}
	if err != nil {
		return append([]transcript.Finding{{Warn: true,
			Message: "could not ask Codex whether it runs our hooks (" + err.Error() + "); from its files:"}},
			a.HookTrustOnDisk(f)...)
	}
	if len(hooks) == 0 {
		return []transcript.Finding{{Warn: true, Fail: true,
			Message: "Codex does not load our hooks in " + f.Path + " (for a project: is the project trusted in Codex?)",
			Fix:     "weave-agentd hooks install " + f.Flag}}
	}
	var skipped []string
	for _, h := range hooks {
		if !h.Runs() {
			state := h.TrustStatus
			if !h.Enabled {
				state = "disabled"
			}
			skipped = append(skipped, upperFirst(h.EventName)+" ("+state+")")
		}
	}
	if len(skipped) > 0 {
		return []transcript.Finding{{Warn: true, Fail: true,
			Message: fmt.Sprintf("Codex skips %d of our %d hooks in %s: %s (any edit of the file un-trusts them)", len(skipped), len(hooks), f.Path, strings.Join(skipped, ", ")),
			Fix:     trustFix(f)}}
	}
	return []transcript.Finding{{Message: fmt.Sprintf("Codex trusts and runs our %d hooks in %s", len(hooks), f.Path)}}
}

// HookTrustOnDisk compares our handlers' hashes in hooks.json with what
// config.toml trusts, running nothing.
func (Agent) HookTrustOnDisk(f transcript.HookFile) []transcript.Finding {
	path, err := filepath.Abs(f.Path)
	if err != nil {
		return nil
	}
	hooks, err := codexapp.FileTrust(path, filepath.Join(f.Home, "config.toml"), f.Command)
	if err != nil || len(hooks) == 0 {
		return nil // cannot tell
	}
	var never, changed, disabled int
	for _, h := range hooks {
		switch {
		case h.Disabled:
			disabled++
		case h.TrustedHash == "":
			never++
		case !h.Trusted():
			changed++
		}
	}
	if never+changed+disabled == 0 {
		return []transcript.Finding{{Message: fmt.Sprintf("Codex trusts our %d hooks", len(hooks))}}
	}
	var why []string
	if never > 0 {
		why = append(why, fmt.Sprintf("%d never trusted", never))
	}
	if changed > 0 {
		why = append(why, fmt.Sprintf("%d changed since trusted", changed))
	}
	if disabled > 0 {
		why = append(why, fmt.Sprintf("%d disabled", disabled))
	}
	return []transcript.Finding{{Warn: true, Fail: true,
		Message: fmt.Sprintf("Codex skips %d of our %d hooks (%s)", never+changed+disabled, len(hooks), strings.Join(why, ", ")),
		Fix:     trustFix(f)}}
}

// errNoCodex: codex is not on the PATH.
var errNoCodex = errors.New("codex is not installed here (not on PATH)")

// appServer is how to run codex app-server for f: the codex found on f's
// PATH, in f's environment, with CODEX_HOME set to the home that holds
// f's config.toml.
func appServer(f transcript.HookFile) (codexapp.Options, codexapp.Target, error) {
	path, err := filepath.Abs(f.Path)
	if err != nil {
		return codexapp.Options{}, codexapp.Target{}, err
	}
	home, err := filepath.Abs(f.Home)
	if err != nil {
		return codexapp.Options{}, codexapp.Target{}, err
	}
	cwd := home
	if f.Project != "" {
		if cwd, err = filepath.Abs(f.Project); err != nil {
			return codexapp.Options{}, codexapp.Target{}, err
		}
	}
	t := codexapp.Target{Path: path, Cwd: cwd, Command: f.Command}
	bin := lookPath("codex", f.Getenv("PATH"))
	if bin == "" {
		return codexapp.Options{}, t, errNoCodex
	}
	env := os.Environ()
	for _, k := range []string{"HOME", "PATH"} {
		if v := f.Getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	env = append(env, "CODEX_HOME="+home) // later entries win
	return codexapp.Options{Binary: bin, Env: env, Dir: cwd, Logger: f.Logger}, t, nil
}

// lookPath finds an executable named name in the folders of path.
func lookPath(name, path string) string {
	for _, dir := range filepath.SplitList(path) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue // a relative PATH entry would run whatever the cwd holds
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// upperFirst turns hooks/list's event names into hooks.json's:
// "preToolUse" → "PreToolUse".
func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
