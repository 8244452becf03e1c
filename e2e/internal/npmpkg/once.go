package npmpkg

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"
)

// Once keeps a CLI's install for the process: the first success, or the
// first failure (a failed install is not retried in the same process; a
// cancelled one is).
type Once struct {
	mu   sync.Mutex
	path string
	err  error
}

// Do returns what install returned the first time it ran to an end, running
// it now if it has not.
func (o *Once) Do(ctx context.Context, install func(context.Context) (string, error)) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.path != "" || o.err != nil {
		return o.path, o.err
	}
	p, err := install(ctx)
	if err != nil {
		if ctx.Err() == nil {
			o.err = err
		}
		return "", err
	}
	o.path = p
	return p, nil
}

// Require returns get's path (a CLI, installed if needed). When that is
// impossible (no npm, no registry, unsupported platform) it skips the test,
// unless CI=true, where it fails it. what names the CLI ("codex 0.171.0").
func Require(t testing.TB, what string, get func(context.Context) (string, error)) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	p, err := get(ctx)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s unavailable (CI=true): %v", what, err)
		}
		t.Skipf("%s unavailable: %v", what, err)
	}
	return p
}
