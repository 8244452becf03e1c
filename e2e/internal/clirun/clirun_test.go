package clirun

import (
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestEnv(t *testing.T) {
	t.Setenv("WEAVE_CLIRUN_SECRET", "leak")
	t.Setenv("WEAVE_CLIRUN_KEPT", "kept")
	env := Env([]string{"WEAVE_CLIRUN_SECRET"}, "A=1", "NO_PROXY=x", "A=2")
	if !slices.Contains(env, "WEAVE_CLIRUN_KEPT=kept") {
		t.Error("an unscrubbed variable was dropped")
	}
	var as, noProxy []string
	for _, kv := range env {
		if strings.HasPrefix(kv, "WEAVE_CLIRUN_SECRET=") {
			t.Errorf("scrubbed variable kept: %s", kv)
		}
		if strings.HasPrefix(kv, "A=") {
			as = append(as, kv)
		}
		if strings.HasPrefix(kv, "NO_PROXY=") {
			noProxy = append(noProxy, kv)
		}
	}
	if !slices.Equal(as, []string{"A=2"}) || !slices.Equal(noProxy, []string{"NO_PROXY=x"}) {
		t.Errorf("want the last value of each key once: A %v, NO_PROXY %v", as, noProxy)
	}
}

func TestRunExitAndTimeout(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	out, err := Run(t.Context(), Cmd{Name: "sh", Path: sh, Args: []string{"-c", "echo out; echo err >&2; exit 3"}, Timeout: time.Minute})
	var exit *exec.ExitError
	if !errors.As(err, &exit) || out.ExitCode != 3 || string(out.Stdout) != "out\n" || string(out.Stderr) != "err\n" {
		t.Errorf("exit 3: got %+v, %v", out, err)
	}
	// A child left in the group holds stdout open: the timeout must end it too.
	_, err = Run(t.Context(), Cmd{Name: "sh", Path: sh, Args: []string{"-c", "sleep 60 & sleep 60"}, Timeout: 100 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "deadline exceeded") {
		t.Errorf("timeout: got %v", err)
	}
}
