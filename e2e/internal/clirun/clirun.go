// Package clirun runs an agent CLI once for the e2e harnesses (claudecli,
// codexcli, geminicli): in its own process group under a timeout, with an
// environment cleaned of the test's own credentials and endpoints, its output
// captured.
package clirun

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Cmd is one run.
type Cmd struct {
	// Name is what errors call the CLI ("claude").
	Name string
	// Path and Args are the program and its arguments.
	Path string
	Args []string
	// Dir is the working directory.
	Dir string
	// Env is the whole environment (see Env).
	Env []string
	// Timeout bounds the run (ctx also applies).
	Timeout time.Duration
}

// Output is what a run left.
type Output struct {
	Stdout, Stderr []byte
	ExitCode       int
	Duration       time.Duration
}

// Prepare returns bin, or the installed CLI install returns when bin is
// empty, and creates dirs (the run's HOME, its project).
func Prepare(ctx context.Context, bin string, install func(context.Context) (string, error), dirs ...string) (string, error) {
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
	}
	if bin != "" {
		return bin, nil
	}
	return install(ctx)
}

// Run runs c with stdin closed, in its own process group: a timeout ends the
// tools and hooks it started too, and whatever it left running in its group
// is ended when it exits. A non-zero exit or a timeout is an error naming the
// command and the ends of its output; Output is filled in either case.
func Run(ctx context.Context, c Cmd) (Output, error) {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.Path, c.Args...)
	cmd.Dir = c.Dir
	cmd.Env = c.Env
	cmd.Stdin = nil // /dev/null: a headless CLI must not wait for input
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	setGroup(cmd)
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	var out Output
	out.Duration = time.Since(start)
	out.Stdout, out.Stderr = stdout.Bytes(), stderr.Bytes()
	if cmd.ProcessState != nil {
		out.ExitCode = cmd.ProcessState.ExitCode()
	}
	killGroup(cmd)
	if ctx.Err() != nil {
		err = ctx.Err()
	}
	if err != nil {
		return out, fmt.Errorf("%s %v: %w (stdout: %s; stderr: %s)", c.Name, c.Args, err, tail(out.Stdout), tail(out.Stderr))
	}
	return out, nil
}

// Env is the test's environment without the variables starting with one of
// scrubbed (real credentials, endpoints, proxies must not leak into a run),
// then NO_PROXY for the loopback stand-ins, then vars; the last value of each
// key wins, in first-seen order.
func Env(scrubbed []string, vars ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !hasAnyPrefix(kv, scrubbed) {
			env = append(env, kv)
		}
	}
	env = append(env, "NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost")
	env = append(env, vars...)
	idx := map[string]int{}
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := idx[k]; ok {
			out[i] = kv
			continue
		}
		idx[k] = len(out)
		out = append(out, kv)
	}
	return out
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// ShellQuote quotes s for a POSIX shell (the CLIs run hook commands with one).
func ShellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// tail is the end of a run's output, trimmed, for an error message.
func tail(b []byte) string {
	const max = 2000
	s := strings.TrimSpace(string(b))
	if len(s) > max {
		s = "…" + s[len(s)-max:]
	}
	return s
}
