package installer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// Runner runs an external command (systemctl, launchctl, loginctl, claude)
// and returns its standard output. A failure is a *RunError carrying the
// standard error. Tests substitute a fake that records the argv sequence.
type Runner interface {
	Run(ctx context.Context, name string, args ...string) ([]byte, error)
}

// RunError is a command that could not run or exited non-zero.
type RunError struct {
	Argv     []string
	ExitCode int    // -1 when the command did not start
	Stderr   string // trimmed
	Err      error
}

func (e *RunError) Error() string {
	msg := strings.Join(e.Argv, " ")
	switch {
	case e.Stderr != "":
		return fmt.Sprintf("%s: %s", msg, firstLine(e.Stderr))
	case e.ExitCode >= 0:
		return fmt.Sprintf("%s: exit status %d", msg, e.ExitCode)
	}
	return fmt.Sprintf("%s: %v", msg, e.Err)
}

func (e *RunError) Unwrap() error { return e.Err }

// NotFound reports whether the command is not installed.
func (e *RunError) NotFound() bool { return errors.Is(e.Err, exec.ErrNotFound) }

// ExecRunner runs commands with os/exec, found on PATH.
type ExecRunner struct{}

// Run implements Runner.
func (ExecRunner) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err == nil {
		return stdout.Bytes(), nil
	}
	re := &RunError{Argv: append([]string{name}, args...), ExitCode: -1, Stderr: strings.TrimSpace(stderr.String()), Err: err}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		re.ExitCode = ee.ExitCode()
	}
	return stdout.Bytes(), re
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
