package claude

import (
	"bufio"
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/genai"
)

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
