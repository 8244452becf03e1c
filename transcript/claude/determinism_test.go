package claude

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/genai"
)

// spanString renders every field of a span, for exact comparisons.
func spanString(s genai.Span) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s/%s<-%s %q %s..%s st=%d %q\n", s.TraceID, s.SpanID, s.ParentID, s.Name,
		s.Start.UTC().Format(time.RFC3339Nano), s.End.UTC().Format(time.RFC3339Nano), s.Status, s.StatusMessage)
	for _, kv := range s.Attrs {
		fmt.Fprintf(&sb, "  %s=%s\n", kv.Key, kv.Value.Emit())
	}
	for _, e := range s.Events {
		fmt.Fprintf(&sb, "  event %s %s\n", e.Name, e.Time.UTC().Format(time.RFC3339Nano))
		for _, kv := range e.Attrs {
			fmt.Fprintf(&sb, "    %s=%s\n", kv.Key, kv.Value.Emit())
		}
	}
	for _, kv := range s.Resource {
		fmt.Fprintf(&sb, "  res %s=%s\n", kv.Key, kv.Value.Emit())
	}
	return sb.String()
}

type feedLine struct {
	path string
	line []byte
}

// feedOrder interleaves a fixture's files the way a tailer could: the main
// transcript first, then each subagent file.
func fixtureFeed(t testing.TB, main string, subs ...string) []feedLine {
	var feed []feedLine
	for _, p := range append([]string{main}, subs...) {
		for _, l := range readLines(t, p) {
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
		out[i] = spanString(s)
	}
	sort.Strings(out)
	return out
}

func checkNoDuplicates(t testing.TB, spans []genai.Span) {
	t.Helper()
	seen := map[genai.SpanID]bool{}
	for _, s := range spans {
		if seen[s.SpanID] {
			t.Errorf("span %s (%s) emitted twice", s.SpanID, s.Name)
		}
		seen[s.SpanID] = true
	}
}

func TestDeterminismSplit(t *testing.T) {
	fx := fixturesDir(t)
	cases := []struct {
		name  string
		main  string
		every bool // split at every boundary (else ~40 sampled ones)
	}{
		{"2.1.291", "claude-code/forgelore-hooks-v2.1.289-291/2.1.291/transcript.jsonl", true},
		{"short", "claude-code/spotter-v2.1.38-39/short.jsonl", true},
		{"tool_heavy", "claude-code/spotter-v2.1.38-39/tool_heavy.jsonl", true},
		{"subagent", "claude-code/spotter-v2.1.38-39/subagent.jsonl", true},
		{"rewind", "synthetic/claude-code-log_dag_compact_after_rewind.jsonl", true},
		{"1.0.98", "claude-code/claude-code-viewer-v1.0.98/fe5e1c67-53e7-4862-81ae-d0e013e3270b.jsonl", false},
		{"2.1.39", "claude-code/spotter-v2.1.38-39/4d5611e5-241a-462a-8d15-5122611a9569.jsonl", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			main := filepath.Join(fx, tc.main)
			feed := fixtureFeed(t, main)
			opts := Options{TranscriptPath: main}
			ref := runFeed("s", opts, feed)
			checkNoDuplicates(t, ref)
			want := canonical(ref)
			// Same input twice: same spans.
			if got := canonical(runFeed("s", opts, feed)); strings.Join(got, "") != strings.Join(want, "") {
				t.Fatal("two runs over the same input differ")
			}
			step := 1
			if !tc.every {
				step = max(1, len(feed)/40)
			}
			for k := 0; k <= len(feed); k += step {
				got := runSplit(t, "s", opts, feed, k)
				checkNoDuplicates(t, got)
				if g := canonical(got); strings.Join(g, "") != strings.Join(want, "") {
					t.Fatalf("split at line %d: %d spans differ from the %d of one run:\n%s", k, len(g), len(want), firstDiff(want, g))
				}
			}
		})
	}
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
