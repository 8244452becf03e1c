package transcript

import (
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// readAll reads every line of r, and reports the reader's state at the end.
func readAll(t *testing.T, lr *LineReader) (lines []string, err error) {
	t.Helper()
	for {
		line, err := lr.Next()
		if err != nil {
			return lines, err
		}
		lines = append(lines, string(line))
	}
}

func TestLineReader(t *testing.T) {
	long := strings.Repeat("x", 300)
	for _, tc := range []struct {
		name     string
		in       string
		off      int64 // start offset
		skipping bool  // start inside an oversized line
		max      int
		last     bool // ReadLast
		want     []string
		offset   int64 // Offset at the end (of the file, not from off)
		skipped  int64
		endSkip  bool // Skipping at the end
	}{
		{name: "lines", in: "a\nb\n", want: []string{"a", "b"}, offset: 4},
		{name: "CRLF and blank lines", in: "a\r\n\n  \r\nb\n", want: []string{"a", "b"}, offset: 10},
		{name: "partial last line left", in: "a\nhalf", want: []string{"a"}, offset: 2},
		{name: "partial last line read", in: "a\nhalf", last: true, want: []string{"a", "half"}, offset: 6},
		{name: "offsets count from the start", in: "a\n", off: 100, want: []string{"a"}, offset: 102},
		{name: "oversized line skipped", in: "a\n" + long + "\nb\n", max: 100, want: []string{"a", "b"}, offset: 305, skipped: 1},
		{name: "line of max bytes with its newline kept", in: strings.Repeat("y", 99) + "\n", max: 100, want: []string{strings.Repeat("y", 99)}, offset: 100},
		{name: "line one byte over", in: strings.Repeat("y", 100) + "\nb\n", max: 100, want: []string{"b"}, offset: 103, skipped: 1},
		{name: "oversized partial line consumed, still skipping", in: "a\n" + long, max: 100, want: []string{"a"}, offset: 302, endSkip: true},
		{name: "oversized partial last line counted with ReadLast", in: "a\n" + long, max: 100, last: true, want: []string{"a"}, offset: 302, skipped: 1},
		{name: "resume inside a skipped line", in: "xxx\nb\n", skipping: true, want: []string{"b"}, offset: 6, skipped: 1},
	} {
		for _, oneByte := range []bool{false, true} {
			name := tc.name
			var r io.Reader = strings.NewReader(tc.in)
			if oneByte {
				name += "/one byte a read"
				r = iotest.OneByteReader(r)
			}
			t.Run(name, func(t *testing.T) {
				lr := NewLineReader(r, tc.off, tc.skipping)
				if tc.max > 0 {
					lr.SetMax(tc.max)
				}
				if tc.last {
					lr.ReadLast()
				}
				got, err := readAll(t, lr)
				if err != io.EOF {
					t.Fatalf("err = %v, want EOF", err)
				}
				if !slices.Equal(got, tc.want) {
					t.Errorf("lines = %q, want %q", got, tc.want)
				}
				if lr.Offset() != tc.offset {
					t.Errorf("offset = %d, want %d", lr.Offset(), tc.offset)
				}
				if lr.Skipped() != tc.skipped || lr.Skipping() != tc.endSkip {
					t.Errorf("skipped %d (skipping %v), want %d (%v)", lr.Skipped(), lr.Skipping(), tc.skipped, tc.endSkip)
				}
			})
		}
	}
}

// TestLineReaderBudget: with a budget the reader stops between reads, and
// a reader started at its offset reads the rest, each line exactly once.
func TestLineReaderBudget(t *testing.T) {
	var in strings.Builder
	var want []string
	for i := range 100 {
		l := strings.Repeat(string(rune('a'+i%26)), 1+i%7)
		want = append(want, l)
		in.WriteString(l + "\n")
	}
	var got []string
	var off int64
	for step := 0; ; step++ {
		if step > 1000 {
			t.Fatal("no progress")
		}
		lr := NewLineReader(iotest.HalfReader(strings.NewReader(in.String()[off:])), off, false)
		lr.SetBuffers(make([]byte, 16), nil)
		lr.SetBudget(10)
		lines, err := readAll(t, lr)
		got = append(got, lines...)
		off = lr.Offset()
		if err == io.EOF {
			break
		}
		if !errors.Is(err, ErrBudget) {
			t.Fatalf("err = %v", err)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("lines = %q\nwant %q", got, want)
	}
}

func TestLineReaderError(t *testing.T) {
	boom := errors.New("boom")
	lr := NewLineReader(io.MultiReader(strings.NewReader("a\nb"), iotest.ErrReader(boom)), 0, false)
	got, err := readAll(t, lr)
	if !errors.Is(err, boom) || !slices.Equal(got, []string{"a"}) || lr.Offset() != 2 {
		t.Errorf("lines %q, offset %d, err %v; want [a], 2, boom", got, lr.Offset(), err)
	}
}

// TestLineReaderNoBudget: a budget of nothing reads nothing, at any offset.
func TestLineReaderNoBudget(t *testing.T) {
	for _, off := range []int64{0, 10} {
		lr := NewLineReader(strings.NewReader("a\n"), off, false)
		lr.SetBudget(0)
		if line, err := lr.Next(); err != ErrBudget {
			t.Errorf("at %d: %q, %v; want ErrBudget", off, line, err)
		}
	}
}
