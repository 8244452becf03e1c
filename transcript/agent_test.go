package transcript

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestGlob: the folder is taken literally, the pattern component by
// component.
func TestGlob(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "[home]*")
	for _, p := range []string{"projects/a/s1.jsonl", "projects/a/sub/x.jsonl", "projects/b/s2.jsonl", "projects/b/n.txt"} {
		p = filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got := Glob(dir, "projects/*/*.jsonl")
	want := []string{filepath.Join(dir, "projects/a/s1.jsonl"), filepath.Join(dir, "projects/b/s2.jsonl")}
	if !slices.Equal(got, want) {
		t.Errorf("Glob = %q, want %q", got, want)
	}
	if got := Glob(filepath.Join(dir, "missing"), "*"); len(got) != 0 {
		t.Errorf("Glob of a missing folder = %q", got)
	}
}
