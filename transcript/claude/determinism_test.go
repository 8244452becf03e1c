package claude

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/genai"

	"github.com/weave-agentd/weave-agentd/internal/testkit"
)

type feedLine struct {
	path string
	line []byte
}

// feedOrder interleaves a fixture's files the way a tailer could: the main
// transcript first, then each subagent file.
func fixtureFeed(t testing.TB, main string, subs ...string) []feedLine {
	var feed []feedLine
	for _, p := range append([]string{main}, subs...) {
		for _, l := range testkit.ReadLines(t, p) {
			feed = append(feed, feedLine{p, l})
		}
	}
	return feed
}

func runFeed(session string, opts Options, feed []feedLine) []genai.Span {
	b := New(session, opts)
	for _, f := range feed {
		b.Line(f.path, f.line)
	}
	settle(b)
	return b.Take()
}

// runSplit feeds feed[:k], persists the state, restores it into a fresh
// builder and feeds the rest.
func runSplit(t testing.TB, session string, opts Options, feed []feedLine, k int) []genai.Span {
	a := New(session, opts)
	for _, f := range feed[:k] {
		a.Line(f.path, f.line)
	}
	out := a.Take()
	st, err := a.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	b := New(session, opts)
	if err := b.RestoreState(st); err != nil {
		t.Fatal(err)
	}
	for _, f := range feed[k:] {
		b.Line(f.path, f.line)
	}
	settle(b)
	return append(out, b.Take()...)
}

func canonical(spans []genai.Span) []string {
	out := make([]string, len(spans))
	for i, s := range spans {
		out[i] = testkit.SpanString(s)
	}
	sort.Strings(out)
	return out
}

func TestDeterminismSplit(t *testing.T) {
	fx := testkit.Fixtures(t)
	for _, gc := range goldenCases {
		t.Run(gc.name, func(t *testing.T) {
			session, opts, feed := loadCase(t, fx, gc)
			ref := runFeed(session, opts, feed)
			testkit.CheckNoDuplicates(t, ref)
			want := canonical(ref)
			// Same input twice: same spans.
			if got := canonical(runFeed(session, opts, feed)); strings.Join(got, "") != strings.Join(want, "") {
				t.Fatal("two runs over the same input differ")
			}
			// Persist and restore at every line boundary (sampled on big files).
			step := 1
			if len(feed) > 200 {
				step = len(feed)/60 + 1
			}
			for k := 0; k <= len(feed); k += step {
				got := runSplit(t, session, opts, feed, k)
				testkit.CheckNoDuplicates(t, got)
				if g := canonical(got); strings.Join(g, "") != strings.Join(want, "") {
					t.Fatalf("split at line %d: %d spans differ from the %d of one run:\n%s", k, len(g), len(want), firstDiff(want, g))
				}
			}
		})
	}
}

// TestFeedOrder: lines of the main and subagent files interleaved as they
// were written (live tailing) give the same spans as file after file
// (backfill).
func TestFeedOrder(t *testing.T) {
	fx := testkit.Fixtures(t)
	for _, gc := range goldenCases {
		t.Run(gc.name, func(t *testing.T) {
			session, opts, feed := loadCase(t, fx, gc)
			want := canonical(runFeed(session, opts, feed))
			live := byTimestamp(feed)
			got := canonical(runFeed(session, opts, live))
			if strings.Join(got, "") != strings.Join(want, "") {
				t.Fatalf("interleaved feed: %d spans, backfill: %d:\n%s", len(got), len(want), firstDiff(want, got))
			}
		})
	}
}

// byTimestamp merges the files of a feed by line timestamp, keeping each
// file's own order (lines without a timestamp follow their predecessor).
func byTimestamp(feed []feedLine) []feedLine {
	type cursor struct {
		lines []feedLine
		ts    []time.Time
	}
	var order []string
	files := map[string]*cursor{}
	for _, f := range feed {
		c := files[f.path]
		if c == nil {
			c = &cursor{}
			files[f.path] = c
			order = append(order, f.path)
		}
		var ts time.Time
		if r, err := parseLine(f.line); err == nil {
			ts = parseTime(r.Timestamp)
		}
		if ts.IsZero() && len(c.ts) > 0 {
			ts = c.ts[len(c.ts)-1]
		}
		c.lines = append(c.lines, f)
		c.ts = append(c.ts, ts)
	}
	var out []feedLine
	for len(out) < len(feed) {
		best := ""
		for _, p := range order {
			c := files[p]
			if len(c.lines) == 0 {
				continue
			}
			if best == "" || c.ts[0].Before(files[best].ts[0]) {
				best = p
			}
		}
		c := files[best]
		out = append(out, c.lines[0])
		c.lines, c.ts = c.lines[1:], c.ts[1:]
	}
	return out
}

func firstDiff(want, got []string) string {
	w := map[string]bool{}
	for _, s := range want {
		w[s] = true
	}
	g := map[string]bool{}
	for _, s := range got {
		g[s] = true
	}
	var out strings.Builder
	for _, s := range want {
		if !g[s] {
			out.WriteString("- " + s)
			break
		}
	}
	for _, s := range got {
		if !w[s] {
			out.WriteString("+ " + s)
			break
		}
	}
	return out.String()
}

// TestFeedTwice: the same lines fed twice to one builder (a replay the
// daemon should never do, or a resumed session's copied history) emit
// nothing the second time.
func TestFeedTwice(t *testing.T) {
	fx := testkit.Fixtures(t)
	for _, gc := range goldenCases {
		t.Run(gc.name, func(t *testing.T) {
			session, opts, feed := loadCase(t, fx, gc)
			b := New(session, opts)
			for _, f := range feed {
				b.Line(f.path, f.line)
			}
			settle(b)
			first := b.Take()
			for _, f := range feed {
				b.Line(f.path, f.line)
			}
			b.Tick(farFuture.Add(48 * time.Hour))
			b.Tick(farFuture.Add(96 * time.Hour))
			if again := b.Take(); len(again) != 0 {
				t.Errorf("%d spans emitted again (first run: %d), e.g. %s", len(again), len(first), again[0].Name)
			}
		})
	}
}
