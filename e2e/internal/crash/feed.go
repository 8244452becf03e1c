package crash

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// HookResult is one run of the hook binary.
type HookResult struct {
	Name     string
	Code     int
	Stdout   string
	Stderr   string
	Duration time.Duration
	Err      error // the process could not run at all
}

// RunHook runs the hook binary with payload on stdin and env as its whole
// environment. It is safe to call from any goroutine.
func RunHook(bin string, env []string, payload []byte, args ...string) HookResult {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	cmd.Stdin = bytes.NewReader(payload)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := HookResult{Stdout: out.String(), Stderr: errb.String(), Duration: time.Since(start)}
	if ee, ok := err.(*exec.ExitError); ok {
		r.Code = ee.ExitCode()
	} else if err != nil {
		r.Err = err
	}
	return r
}

// Feeder applies ops to a HOME: appends to transcript files, runs the hook
// binary. It records every hook result.
type Feeder struct {
	Home    string   // HOME (replaces HomePlaceholder in payloads)
	HookBin string   // weave-agentd-hook
	Env     []string // environment of the hook processes

	mu      sync.Mutex
	results []HookResult
}

// Apply performs one op (after its pause).
func (f *Feeder) Apply(op Op) error {
	if op.Pause > 0 {
		time.Sleep(op.Pause)
	}
	if op.Hook != nil {
		payload := bytes.ReplaceAll(op.Hook, []byte(HomePlaceholder), []byte(f.Home))
		r := RunHook(f.HookBin, f.Env, payload, "claude")
		r.Name = op.Name
		f.mu.Lock()
		f.results = append(f.results, r)
		f.mu.Unlock()
		return r.Err
	}
	path := filepath.Join(f.Home, op.File)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, werr := out.Write(op.Data)
	cerr := out.Close()
	if werr != nil {
		return werr
	}
	return cerr
}

// Run applies every op in order, stopping at the first error.
func (f *Feeder) Run(ops []Op) error {
	for i, op := range ops {
		if err := f.Apply(op); err != nil {
			return fmt.Errorf("op %d (%s %s): %w", i, op.Name, op.File, err)
		}
	}
	return nil
}

// Hooks returns the recorded hook results.
func (f *Feeder) Hooks() []HookResult {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]HookResult(nil), f.results...)
}

// Latency summarises hook durations: p50, p99, max.
func Latency(rs []HookResult) (p50, p99, maxd time.Duration) {
	if len(rs) == 0 {
		return
	}
	ds := make([]time.Duration, len(rs))
	for i, r := range rs {
		ds[i] = r.Duration
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2], ds[min(len(ds)-1, len(ds)*99/100)], ds[len(ds)-1]
}

// FlashRun starts `weave-agentd run` and SIGKILLs it after d, before or
// while it restores sessions and drains the inbox (StartDaemon-style helpers
// wait until the daemon answers, past that window). It returns the
// process's output.
func FlashRun(bin string, env []string, d time.Duration) (string, error) {
	cmd := exec.Command(bin, "run")
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return "", err
	}
	time.Sleep(d)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	return out.String(), nil
}
