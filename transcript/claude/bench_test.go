package claude

import (
	"fmt"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/weave-agentd/weave-agentd/internal/testkit"
)

var (
	uuidRe = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	idRe   = regexp.MustCompile(`(msg|toolu|req)_[A-Za-z0-9]+`)
)

// bigTranscript repeats the shapes of real transcripts (main files of
// several versions, subagent lines included) with fresh ids in every copy,
// until it holds at least size bytes.
func bigTranscript(tb testing.TB, size int) [][]byte {
	fx := testkit.Fixtures(tb)
	var src [][]byte
	for _, gc := range goldenCases {
		_, _, feed := loadCase(tb, fx, gc)
		for _, f := range feed {
			src = append(src, f.line)
		}
	}
	var out [][]byte
	total := 0
	for k := 0; total < size; k++ {
		tag := []byte(fmt.Sprintf("%04x", k&0xffff))
		suffix := []byte(fmt.Sprintf("x%d", k))
		for _, l := range src {
			l = uuidRe.ReplaceAllFunc(l, func(m []byte) []byte {
				c := append([]byte(nil), m...)
				copy(c, tag)
				return c
			})
			l = idRe.ReplaceAllFunc(l, func(m []byte) []byte { return append(append([]byte(nil), m...), suffix...) })
			out = append(out, l)
			total += len(l) + 1
		}
	}
	return out
}

// BenchmarkParse measures end-to-end throughput (MB/s): decoding lines and
// rebuilding spans, on ~64 MB of transcript.
func BenchmarkParse(b *testing.B) {
	lines := bigTranscript(b, 64<<20)
	var n int64
	for _, l := range lines {
		n += int64(len(l) + 1)
	}
	path := filepath.Join(b.TempDir(), "bench.jsonl")
	b.SetBytes(n)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bl := New("bench", Options{TranscriptPath: path})
		for _, l := range lines {
			bl.Line(path, l)
			if len(bl.out) > 4096 {
				bl.Take()
			}
		}
		settle(bl)
		bl.Take()
	}
}

// BenchmarkParseLine measures the line decoder alone.
func BenchmarkParseLine(b *testing.B) {
	lines := bigTranscript(b, 16<<20)
	var n int64
	for _, l := range lines {
		n += int64(len(l) + 1)
	}
	b.SetBytes(n)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, l := range lines {
			_, _ = parseLine(l)
		}
	}
}
