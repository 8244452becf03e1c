// Package testkit holds what the module's tests share: golden files with an
// -update flag, and the location of ../shared/fixtures. Only tests import it.
package testkit

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// Golden compares got with the golden file at path, or rewrites the file
// when the tests run with -update.
func Golden(t testing.TB, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (go test -update rewrites it; review the diff):\n%s", path, LineDiff(string(want), got))
	}
}

// LineDiff shows the first line where want and got differ.
func LineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return fmt.Sprintf("line %d:\n- %q\n+ %q", i+1, a, b)
		}
	}
	return ""
}

// ModuleRoot is the folder holding the module's go.mod, found by walking up
// from the test's working directory (its package folder).
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := ModuleRootOK()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// ModuleRootOK is ModuleRoot for callers without a testing.TB (fuzz seeds).
func ModuleRootOK() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("go.mod not found above the test's folder")
		}
		dir = parent
	}
}

// Fixtures is ../shared/fixtures beside the module; the test is skipped when
// it is absent.
func Fixtures(t testing.TB) string {
	t.Helper()
	fx, ok := FixturesOK()
	if !ok {
		t.Skipf("fixtures absent (%s)", fx)
	}
	return fx
}

// FixturesOK is Fixtures without skipping: the path, and whether it exists.
func FixturesOK() (string, bool) {
	root, err := ModuleRootOK()
	if err != nil {
		return err.Error(), false
	}
	fx := filepath.Join(root, "..", "shared", "fixtures")
	if _, err := os.Stat(fx); err != nil {
		return fx, false
	}
	return fx, true
}
