package codexapp

import (
	"os"
	"path/filepath"
	"testing"
)

// Hashes codex-cli 0.171.0's hooks/list reported for these handlers
// (TestRealCodexTrust checks many more against the binary itself).
func TestHookHash(t *testing.T) {
	five := uint64(5)
	star := "*"
	h := Handler{Type: "command", Command: "/opt/x/weave-agentd-hook", Timeout: &five}
	for _, tc := range []struct {
		event   string
		matcher *string
		want    string
	}{
		{"PreToolUse", &star, "sha256:66f15f708ae32da924e5ca03884d9d7958d56fb1c62ed2e6407f89b347ec722d"},
		{"SessionStart", nil, "sha256:5f05e84e0a63e243802e121994d99291daa8fb2b4c9f5deef9e900520e6e2230"},
	} {
		if got := HookHash(tc.event, tc.matcher, h); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.event, got, tc.want)
		}
	}
	if EventLabel("UserPromptSubmit") != "user_prompt_submit" {
		t.Error(EventLabel("UserPromptSubmit"))
	}
}

func TestFileTrust(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "hooks.json")
	config := filepath.Join(dir, "config.toml")
	os.WriteFile(path, []byte(`{"hooks":{"PreToolUse":[{"matcher":"*","hooks":[{"type":"command","command":"/opt/x/weave-agentd-hook","timeout":5}]}],
"SessionStart":[{"hooks":[{"type":"command","command":"/usr/bin/theirs"},{"type":"command","command":"/opt/x/weave-agentd-hook","timeout":5}]}]}}`), 0o600)
	key := path + ":pre_tool_use:0:0"
	os.WriteFile(config, []byte(`model = "x"
[hooks.state."`+key+`"]
trusted_hash = "sha256:66f15f708ae32da924e5ca03884d9d7958d56fb1c62ed2e6407f89b347ec722d"
[hooks.state."`+path+`:session_start:0:1"]
trusted_hash = "sha256:5f05e84e0a63e243802e121994d99291daa8fb2b4c9f5deef9e900520e6e2230"
enabled = false
`), 0o600)
	got, err := FileTrust(path, config, "/opt/x/weave-agentd-hook")
	if err != nil {
		t.Fatal(err)
	}
	state := map[string]bool{}
	for _, h := range got {
		state[h.Key] = h.Trusted()
	}
	want := map[string]bool{key: true, path + ":session_start:0:1": false} // disabled
	if len(state) != 2 || state[key] != want[key] || state[path+":session_start:0:1"] {
		t.Errorf("got %v, want %v", state, want)
	}
	// No config.toml: nothing trusted, no error.
	if got, err := FileTrust(path, filepath.Join(dir, "none.toml"), "/opt/x/weave-agentd-hook"); err != nil || len(got) != 2 || got[0].Trusted() {
		t.Errorf("without config.toml: %v %v", got, err)
	}
}
