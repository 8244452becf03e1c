package npmcache

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fakeNPM puts an `npm` on PATH that writes <prefix>/bin/tool and counts its runs.
func fakeNPM(t *testing.T, fail bool) (count func() int) {
	t.Helper()
	dir := t.TempDir()
	log := filepath.Join(dir, "runs")
	script := `#!/bin/sh
echo run >> "` + log + `"
while [ "$1" != "--prefix" ]; do shift; done
prefix="$2"
`
	if fail {
		script += "echo 'npm error 404 Not Found' >&2; exit 1\n"
	} else {
		script += "sleep 0.2; mkdir -p \"$prefix/bin\" && echo ok > \"$prefix/bin/tool\"\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "npm"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return func() int {
		b, _ := os.ReadFile(log)
		return strings.Count(string(b), "run")
	}
}

func find(prefix string) (string, error) {
	p := filepath.Join(prefix, "bin", "tool")
	if _, err := os.Stat(p); err != nil {
		return "", err
	}
	return p, nil
}

// Concurrent installs of one package run npm once and all get the binary
// from the final folder (built elsewhere, renamed into place); later calls
// reuse it without npm.
func TestInstallOnceUnderLock(t *testing.T) {
	runs := fakeNPM(t, false)
	dir := filepath.Join(t.TempDir(), "cache", "tool-1.0.0")
	p := Package{Spec: "tool@1.0.0", Dir: dir, Find: find}
	var wg sync.WaitGroup
	got := make([]string, 4)
	errs := make([]error, 4)
	for i := range got {
		wg.Go(func() { got[i], errs[i] = Install(context.Background(), p) })
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil || got[i] != filepath.Join(dir, "bin", "tool") {
			t.Errorf("install %d: %q %v", i, got[i], errs[i])
		}
	}
	if _, err := Install(context.Background(), p); err != nil || runs() != 1 {
		t.Errorf("npm ran %d times (err %v), want once", runs(), err)
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), ".tool-1.0.0-install-*"))
	if len(left) != 0 {
		t.Errorf("temp installs left behind: %v", left)
	}
}

// A failed npm leaves no half install and says what npm said.
func TestInstallFailure(t *testing.T) {
	fakeNPM(t, true)
	dir := filepath.Join(t.TempDir(), "tool-1.0.0")
	_, err := Install(context.Background(), Package{Spec: "tool@1.0.0", Dir: dir, Find: find})
	if err == nil || !strings.Contains(err.Error(), "404 Not Found") || !strings.Contains(err.Error(), "tool@1.0.0") {
		t.Fatalf("error %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("install folder exists after a failure: %v", err)
	}
}

func TestRoot(t *testing.T) {
	t.Setenv(EnvCache, "/x/cache")
	if r, err := Root(); err != nil || r != "/x/cache" {
		t.Errorf("Root = %q %v", r, err)
	}
}
