//go:build unix

package npmpkg

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fakeNPM is an npm that records each call and "installs" by writing
// <prefix>/node_modules/pkg/VERSION.
const fakeNPM = `#!/bin/sh
echo "$*" >> "$NPM_CALLS"
prefix=""
while [ $# -gt 0 ]; do
  if [ "$1" = "--prefix" ]; then prefix="$2"; fi
  shift
done
mkdir -p "$prefix/node_modules/pkg" && echo 1.2.3 > "$prefix/node_modules/pkg/VERSION"
`

func find(prefix string) (string, error) {
	p := filepath.Join(prefix, "node_modules", "pkg", "VERSION")
	b, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(string(b)) != "1.2.3" {
		return "", errors.New("wrong version")
	}
	return p, nil
}

// Parallel installs of one package run npm once, into a temp folder renamed
// into place; a later install reuses it without npm.
func TestInstallOnceUnderLock(t *testing.T) {
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "npm"), []byte(fakeNPM), 0o755); err != nil {
		t.Fatal(err)
	}
	calls := filepath.Join(t.TempDir(), "calls")
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("NPM_CALLS", calls)
	spec := Spec{Package: "pkg", Version: "1.2.3", Dir: filepath.Join(t.TempDir(), "cache", "pkg-1.2.3"), Args: []string{"--omit=optional"}, Find: find}

	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			p, err := Install(context.Background(), spec)
			if err == nil && !strings.HasPrefix(p, spec.Dir) {
				err = errors.New("installed outside Dir: " + p)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(calls)
	if n := strings.Count(string(b), "\n"); n != 1 || !strings.Contains(string(b), "--omit=optional pkg@1.2.3") {
		t.Fatalf("npm calls:\n%s", b)
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(spec.Dir), ".pkg-1.2.3-install-*"))
	if len(left) != 0 {
		t.Errorf("temp folders left: %v", left)
	}
}
