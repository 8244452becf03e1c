package transcript

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"
)

// lines is a MergeInput over lines held in memory; after them it returns
// end (io.EOF when nil).
type lines struct {
	l   []string
	end error
}

func (s *lines) Next() ([]byte, error) {
	if len(s.l) == 0 {
		if s.end != nil {
			return nil, s.end
		}
		return nil, io.EOF
	}
	l := s.l[0]
	s.l = s.l[1:]
	return []byte(l), nil
}

func rec(name, ts string) string {
	if ts == "" {
		return fmt.Sprintf(`{"n":%q}`, name)
	}
	return fmt.Sprintf(`{"n":%q,"timestamp":%q}`, name, ts)
}

func TestMerge(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name  string
		files []*lines
		want  []string // "file:name" in the order fed
		err   error    // what Next returns at the end
	}{
		{name: "one file", files: []*lines{{l: []string{rec("a", "2025-01-01T00:00:02Z"), rec("b", "2025-01-01T00:00:01Z")}}},
			want: []string{"0:a", "0:b"}, err: io.EOF},
		{name: "by time", files: []*lines{
			{l: []string{rec("m1", "2025-01-01T00:00:01Z"), rec("m2", "2025-01-01T00:00:05Z")}},
			{l: []string{rec("s1", "2025-01-01T00:00:02Z"), rec("s2", "2025-01-01T00:00:03Z")}},
		}, want: []string{"0:m1", "1:s1", "1:s2", "0:m2"}, err: io.EOF},
		{name: "ties go to the file added first", files: []*lines{
			{l: []string{rec("m1", "2025-01-01T00:00:01Z")}},
			{l: []string{rec("s1", "2025-01-01T00:00:01Z")}},
		}, want: []string{"0:m1", "1:s1"}, err: io.EOF},
		{name: "a line without timestamp takes its file's previous one", files: []*lines{
			{l: []string{rec("m1", "2025-01-01T00:00:01Z"), rec("m2", ""), rec("m3", "2025-01-01T00:00:09Z")}},
			{l: []string{rec("s1", "2025-01-01T00:00:02Z")}},
		}, want: []string{"0:m1", "0:m2", "1:s1", "0:m3"}, err: io.EOF},
		{name: "lines before a file's first timestamp go first", files: []*lines{
			{l: []string{rec("m1", "2025-01-01T00:00:01Z")}},
			{l: []string{rec("s0", ""), rec("s1", "2025-01-01T00:00:02Z")}},
		}, want: []string{"1:s0", "0:m1", "1:s1"}, err: io.EOF},
		{name: "times compared as times, not strings", files: []*lines{
			{l: []string{rec("m1", "2025-01-01T00:00:01.5Z")}},
			{l: []string{rec("s1", "2025-01-01T00:00:01Z"), rec("s2", "2025-01-01T01:00:01+02:00")}},
		}, want: []string{"1:s1", "1:s2", "0:m1"}, err: io.EOF},
		{name: "a stalled file stops the merge", files: []*lines{
			{l: []string{rec("m1", "2025-01-01T00:00:01Z"), rec("m2", "2025-01-01T00:00:09Z")}},
			{l: []string{rec("s1", "2025-01-01T00:00:02Z")}, end: ErrStalled},
		}, want: []string{"0:m1", "1:s1"}, err: ErrStalled},
		{name: "a read error is reported with its file", files: []*lines{
			{l: []string{rec("m1", "2025-01-01T00:00:01Z")}},
			{l: []string{rec("s1", "2025-01-01T00:00:02Z")}, end: boom},
		}, want: []string{"0:m1", "1:s1"}, err: boom},
		{name: "empty files", files: []*lines{{}, {}}, err: io.EOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m Merge
			for _, f := range tc.files {
				if err := m.Add(f); err != nil {
					t.Fatal(err)
				}
			}
			var got []string
			for {
				i, line, ts, err := m.Next()
				if err != nil {
					if !errors.Is(err, tc.err) {
						t.Errorf("err = %v, want %v", err, tc.err)
					}
					if err == boom && i != 1 {
						t.Errorf("error reported for file %d, want 1", i)
					}
					break
				}
				if lt := LineTime(line); !lt.IsZero() && !lt.Equal(ts) {
					t.Errorf("time %v for a line of %v", ts, lt)
				}
				var r struct{ N string }
				if err := json.Unmarshal(line, &r); err != nil {
					t.Fatal(err)
				}
				got = append(got, fmt.Sprintf("%d:%s", i, r.N))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("order = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLineTime(t *testing.T) {
	for _, tc := range []struct {
		line string
		want time.Time
	}{
		{`{"timestamp":"2025-06-01T10:00:00.123Z","x":1}`, time.Date(2025, 6, 1, 10, 0, 0, 123e6, time.UTC)},
		{`{"type":"user","timestamp":"2025-06-01T12:00:00+02:00"}`, time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)},
		{`{"type":"user"}`, time.Time{}},
		{`{"timestamp":"yesterday"}`, time.Time{}},
		{`{"timestamp":"2025-06-01T10:00:00Z`, time.Time{}},
	} {
		if got := LineTime([]byte(tc.line)); !got.Equal(tc.want) {
			t.Errorf("LineTime(%s) = %v, want %v", tc.line, got, tc.want)
		}
	}
}
