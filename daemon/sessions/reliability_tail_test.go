package sessions

import (
	"bytes"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// relTailLines is what a tailer must deliver for data: every complete,
// non-blank line, "\r" trimmed, in order.
func relTailLines(data []byte) []string {
	var out []string
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return out
		}
		l := data[:i]
		data = data[i+1:]
		if len(bytes.TrimSpace(l)) > 0 {
			out = append(out, string(bytes.TrimSuffix(l, []byte("\r"))))
		}
	}
}

// FuzzTailerResume is invariant 2 seen from the tailer: a file written in
// arbitrary pieces (lines split anywhere) and read with arbitrary budgets by
// tailers that are thrown away ("killed") at arbitrary points and rebuilt
// from the last committed state delivers every complete line exactly once,
// in order, and never a partial one.
func FuzzTailerResume(f *testing.F) {
	f.Add([]byte("{\"a\":1}\n{\"b\":2}\r\n\n{\"c\":\n3}\n"), int64(1))
	f.Add([]byte("x\ny\nz"), int64(2))
	f.Add(bytes.Repeat([]byte("0123456789abcdef\n"), 300), int64(3))
	f.Fuzz(func(t *testing.T, data []byte, seed int64) {
		if len(data) > 4096 { // each read allocates a 1 MiB chunk: keep execs cheap
			return
		}
		rng := rand.New(rand.NewSource(seed))
		p := filepath.Join(t.TempDir(), "t.jsonl")
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		tl := &tailer{path: p}
		committed := tl.st.encode()
		var got []string
		var uncommitted []string
		written := 0
		for steps := 0; steps < 64 && (written < len(data) || rng.Intn(3) > 0); steps++ {
			if written < len(data) && rng.Intn(2) == 0 {
				n := 1 + rng.Intn(len(data)-written)
				f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
				if err != nil {
					t.Fatal(err)
				}
				f.Write(data[written : written+n])
				f.Close()
				written += n
			}
			switch rng.Intn(4) {
			case 0: // crash: lines read since the last commit are lost with it
				uncommitted = nil
				tl = &tailer{path: p, st: decodeFileState(committed)}
			case 1: // commit
				got = append(got, uncommitted...)
				uncommitted = nil
				committed = tl.st.encode()
			default:
				budget := int64(1 + rng.Intn(256))
				if _, _, err := tl.read(budget, func(l []byte, _ int64) { uncommitted = append(uncommitted, string(l)) }); err != nil {
					t.Fatal(err)
				}
			}
		}
		// Finish: write the rest, read to EOF and commit.
		if written < len(data) {
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.Write(data[written:])
			f.Close()
		}
		for {
			_, eof, err := tl.read(1<<20, func(l []byte, _ int64) { uncommitted = append(uncommitted, string(l)) })
			if err != nil {
				t.Fatal(err)
			}
			if eof {
				break
			}
		}
		got = append(got, uncommitted...)
		want := relTailLines(data)
		if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
			t.Fatalf("delivered %q\nwant      %q", got, want)
		}
	})
}

// A line over the cap (32 MiB) is skipped whole and counted once, even when
// the step budget (8 MiB) or a commit falls inside it: no piece of it may
// reach the builder as a line of its own.
func TestTailerSkipsAnOversizedLineWholeAcrossSteps(t *testing.T) {
	p := filepath.Join(t.TempDir(), "t.jsonl")
	huge := append(append([]byte(`{"type":"user","message":{"content":"`), bytes.Repeat([]byte("A"), maxLine+8<<20)...),
		[]byte(`"},"uuid":"tail"}`)...)
	data := append(append([]byte("{\"first\":1}\n"), huge...), []byte("\n{\"last\":1}\n")...)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	tl := &tailer{path: p}
	var got []string
	for steps := 0; ; steps++ {
		_, eof, err := tl.read(stepBudget, func(l []byte, _ int64) {
			s := string(l)
			if len(s) > 60 {
				s = s[:30] + "…" + s[len(s)-30:]
			}
			got = append(got, s)
		})
		if err != nil {
			t.Fatal(err)
		}
		tl = &tailer{path: p, st: decodeFileState(tl.st.encode()), skipped: tl.skipped} // a commit per step
		if eof || steps > 100 {
			break
		}
	}
	if strings.Join(got, "|") != `{"first":1}|{"last":1}` {
		t.Errorf("delivered %q; want only the two small lines (a piece of the oversized line leaked through as a line)", got)
	}
	if tl.skipped != 1 {
		t.Errorf("skipped %d, want 1", tl.skipped)
	}
}
