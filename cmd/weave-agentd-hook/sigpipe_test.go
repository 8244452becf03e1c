package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// An agent that stops reading the hook's stdout (it timed out, or was
// interrupted) must not turn our hook into a failed one: the answer's
// write fails with EPIPE, and the hook still exits 0 (it used to die of
// SIGPIPE, exit status 141, where Gemini CLI and Cursor expect output),
// the event journaled while the daemon is away.
func TestHookExitsZeroWhenItsStdoutIsClosed(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "weave-agentd-hook")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	for agent, payload := range map[string]string{
		"gemini": `{"session_id":"s-gemini","hook_event_name":"SessionStart","source":"startup"}`,
		"cursor": `{"conversation_id":"s-cursor","hook_event_name":"beforeSubmitPrompt","cursor_version":"1.7.0","prompt":"hi"}`,
	} {
		home := t.TempDir()
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		r.Close() // nobody reads the answer
		cmd := exec.Command(bin, agent)
		cmd.Env = []string{"WEAVE_AGENTD_HOME=" + home}
		cmd.Stdin = bytes.NewReader([]byte(payload))
		cmd.Stdout = w
		err = cmd.Run()
		w.Close()
		if err != nil {
			t.Errorf("%s: the hook failed with its stdout closed: %v", agent, err)
		}
		if b, err := os.ReadFile(filepath.Join(home, "inbox.jsonl")); err != nil || !bytes.Contains(b, []byte(`"s-`+agent+`"`)) {
			t.Errorf("%s: the event is not in the inbox (%v): %q", agent, err, b)
		}
	}
}
