package claude

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/genai"
)

// fixturesDir finds ../shared/fixtures relative to the module root (the
// directory holding go.mod), or skips the test when it is absent.
func fixturesDir(t testing.TB) string {
	t.Helper()
	fx, ok := fixturesDirOK()
	if !ok {
		t.Skipf("fixtures absent (%s)", fx)
	}
	return fx
}

func fixturesDirOK() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "go.mod not found", false
		}
		dir = parent
	}
	fx := filepath.Join(dir, "..", "shared", "fixtures")
	if _, err := os.Stat(fx); err != nil {
		return fx, false
	}
	return fx, true
}

// readLines returns the complete lines of a file.
func readLines(t testing.TB, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		lines = append(lines, append([]byte(nil), sc.Bytes()...))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// farFuture is a Tick time long after every fixture.
var farFuture = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)

// settle lets every time rule fire: a first Tick (the daemon sees the
// session), then one long after it (everything idles out).
func settle(b *Builder) {
	b.Tick(farFuture)
	b.Tick(farFuture.Add(24 * time.Hour))
}

func attrMap(s genai.Span) map[string]string {
	m := map[string]string{}
	for _, kv := range s.Attrs {
		m[string(kv.Key)] = kv.Value.Emit()
	}
	return m
}
