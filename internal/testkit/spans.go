package testkit

import (
	"bufio"
	"bytes"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/genai"
)

// ReadLines returns the complete lines of a file (each up to 64 MiB).
func ReadLines(t testing.TB, path string) [][]byte {
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

// AttrMap is a span's attributes, their values as strings.
func AttrMap(s genai.Span) map[string]string {
	m := map[string]string{}
	for _, kv := range s.Attrs {
		m[string(kv.Key)] = kv.Value.String()
	}
	return m
}

// CheckNoDuplicates reports every span id emitted twice.
func CheckNoDuplicates(t testing.TB, spans []genai.Span) {
	t.Helper()
	seen := map[genai.SpanID]bool{}
	for _, s := range spans {
		if seen[s.SpanID] {
			t.Errorf("span %s (%s) emitted twice", s.SpanID, s.Name)
		}
		seen[s.SpanID] = true
	}
}

// Usage is token usage summed over spans, as a backend rolls it up.
type Usage struct{ Input, Output, CacheRead, CacheCreation, Reasoning int64 }

// SumUsage sums gen_ai.usage.* over the spans keep selects (all when keep
// is nil).
func SumUsage(spans []genai.Span, keep func(genai.Span) bool) Usage {
	var u Usage
	for _, s := range spans {
		if keep != nil && !keep(s) {
			continue
		}
		for _, kv := range s.Attrs {
			switch kv.Key {
			case "gen_ai.usage.input_tokens":
				u.Input += kv.Value.AsInt64()
			case "gen_ai.usage.output_tokens":
				u.Output += kv.Value.AsInt64()
			case "gen_ai.usage.cache_read.input_tokens":
				u.CacheRead += kv.Value.AsInt64()
			case "gen_ai.usage.cache_creation.input_tokens":
				u.CacheCreation += kv.Value.AsInt64()
			case "gen_ai.usage.reasoning.output_tokens":
				u.Reasoning += kv.Value.AsInt64()
			}
		}
	}
	return u
}

// Short is s on one line (runs of white space become one space), cut to n
// runes with an ellipsis.
func Short(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// SpanTree renders spans for a golden file: each trace as an indented tree
// (parents before their children), roots and siblings in cmp's order, a root
// whose parent was not emitted marked so. line renders one span at its
// depth, with its own indentation and without the final newline.
func SpanTree(spans []genai.Span, cmp func(a, b genai.Span) int, line func(s genai.Span, depth int) string) string {
	emitted := map[genai.SpanID]bool{}
	for _, s := range spans {
		emitted[s.SpanID] = true
	}
	children := map[genai.SpanID][]genai.Span{}
	var roots []genai.Span
	for _, s := range spans {
		if s.ParentID.IsZero() || !emitted[s.ParentID] {
			roots = append(roots, s)
		} else {
			children[s.ParentID] = append(children[s.ParentID], s)
		}
	}
	var sb strings.Builder
	var walk func(s genai.Span, depth int)
	walk = func(s genai.Span, depth int) {
		sb.WriteString(line(s, depth))
		sb.WriteString("\n")
		kids := children[s.SpanID]
		slices.SortStableFunc(kids, cmp)
		for _, k := range kids {
			walk(k, depth+1)
		}
	}
	slices.SortStableFunc(roots, cmp)
	for _, r := range roots {
		if !r.ParentID.IsZero() {
			sb.WriteString("(parent " + r.ParentID.String() + " not emitted) ")
		}
		walk(r, 0)
	}
	return sb.String()
}

// ByStart orders spans by start time, then span id (a cmp function for
// slices.SortStableFunc and SpanTree).
func ByStart(a, b genai.Span) int {
	if c := a.Start.Compare(b.Start); c != 0 {
		return c
	}
	return strings.Compare(a.SpanID.String(), b.SpanID.String())
}

// ByStartName orders spans by start time, then name, then span id.
func ByStartName(a, b genai.Span) int {
	if c := a.Start.Compare(b.Start); c != 0 {
		return c
	}
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	return strings.Compare(a.SpanID.String(), b.SpanID.String())
}

// ValueCounts is a golden file's header line for each key: the values the
// spans carry for it (quoted, sorted) and how many spans carry each, e.g.
// `# gen_ai.agent.name: "claude-code"×12`.
func ValueCounts(spans []genai.Span, keys ...string) string {
	var sb strings.Builder
	for _, k := range keys {
		vals := map[string]int{}
		for _, s := range spans {
			vals[fmt.Sprintf("%q", AttrMap(s)[k])]++
		}
		fmt.Fprintf(&sb, "# %s:", k)
		for _, v := range slices.Sorted(maps.Keys(vals)) {
			fmt.Fprintf(&sb, " %s×%d", v, vals[v])
		}
		sb.WriteString("\n")
	}
	return sb.String()
}

// SpanString renders every field of a span (ids, name, times, status,
// attributes, events, resource), for exact comparisons.
func SpanString(s genai.Span) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s/%s<-%s %q %s..%s st=%d %q\n", s.TraceID, s.SpanID, s.ParentID, s.Name,
		s.Start.UTC().Format(time.RFC3339Nano), s.End.UTC().Format(time.RFC3339Nano), s.Status, s.StatusMessage)
	for _, kv := range s.Attrs {
		fmt.Fprintf(&sb, "  %s=%s\n", kv.Key, kv.Value.String())
	}
	for _, e := range s.Events {
		fmt.Fprintf(&sb, "  event %s %s\n", e.Name, e.Time.UTC().Format(time.RFC3339Nano))
		for _, kv := range e.Attrs {
			fmt.Fprintf(&sb, "    %s=%s\n", kv.Key, kv.Value.String())
		}
	}
	for _, kv := range s.Resource {
		fmt.Fprintf(&sb, "  res %s=%s\n", kv.Key, kv.Value.String())
	}
	return sb.String()
}
