package testkit

import (
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/weave-agentd/weave-agentd/genai"
)

func TestSpanTree(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	root := genai.Span{Name: "root", SpanID: genai.SpanID{1}, Start: t0}
	late := genai.Span{Name: "b", SpanID: genai.SpanID{2}, ParentID: root.SpanID, Start: t0.Add(2 * time.Second)}
	early := genai.Span{Name: "a", SpanID: genai.SpanID{3}, ParentID: root.SpanID, Start: t0.Add(time.Second)}
	grandchild := genai.Span{Name: "c", SpanID: genai.SpanID{4}, ParentID: late.SpanID, Start: t0.Add(3 * time.Second)}
	orphan := genai.Span{Name: "orphan", SpanID: genai.SpanID{5}, ParentID: genai.SpanID{9}, Start: t0.Add(time.Hour)}
	got := SpanTree([]genai.Span{orphan, grandchild, late, root, early}, ByStart, func(s genai.Span, depth int) string {
		return strings.Repeat("  ", depth) + s.Name
	})
	want := "root\n  a\n  b\n    c\n(parent " + genai.SpanID{9}.String() + " not emitted) orphan\n"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestSumUsage(t *testing.T) {
	chat := func(trace byte, in, out int64) genai.Span {
		return genai.Span{TraceID: genai.TraceID{trace}, Attrs: []attribute.KeyValue{
			attribute.Int64("gen_ai.usage.input_tokens", in), attribute.Int64("gen_ai.usage.output_tokens", out),
			attribute.Int64("gen_ai.usage.reasoning.output_tokens", 1)}}
	}
	spans := []genai.Span{chat(1, 10, 2), chat(2, 100, 20), chat(1, 5, 1)}
	if u := SumUsage(spans, nil); u != (Usage{Input: 115, Output: 23, Reasoning: 3}) {
		t.Errorf("all: %+v", u)
	}
	if u := SumUsage(spans, func(s genai.Span) bool { return s.TraceID == genai.TraceID{1} }); u != (Usage{Input: 15, Output: 3, Reasoning: 2}) {
		t.Errorf("trace 1: %+v", u)
	}
}
