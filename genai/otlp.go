package genai

import (
	"sort"
	"time"

	"go.opentelemetry.io/otel/attribute"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// ScopeName is the instrumentation scope every span is exported under.
const ScopeName = "github.com/weave-agentd/weave-agentd"

// Proto converts the span to its OTLP protobuf form. Kind is INTERNAL for
// agent and tool spans and CLIENT for model calls, as the GenAI conventions
// suggest.
func (s *Span) Proto() *tracepb.Span {
	ps := &tracepb.Span{
		TraceId:           append([]byte(nil), s.TraceID[:]...),
		SpanId:            append([]byte(nil), s.SpanID[:]...),
		Name:              s.Name,
		Kind:              tracepb.Span_SPAN_KIND_INTERNAL,
		StartTimeUnixNano: unixNano(s.Start),
		EndTimeUnixNano:   unixNano(s.End),
		Attributes:        KeyValues(s.Attrs),
		Status:            &tracepb.Status{Code: tracepb.Status_StatusCode(s.Status), Message: s.StatusMessage},
	}
	if !s.ParentID.IsZero() {
		ps.ParentSpanId = append([]byte(nil), s.ParentID[:]...)
	}
	for _, kv := range s.Attrs {
		if kv.Key == "gen_ai.operation.name" && kv.Value.AsString() == "chat" {
			ps.Kind = tracepb.Span_SPAN_KIND_CLIENT
		}
	}
	if ps.EndTimeUnixNano < ps.StartTimeUnixNano {
		ps.EndTimeUnixNano = ps.StartTimeUnixNano
	}
	for _, e := range s.Events {
		ps.Events = append(ps.Events, &tracepb.Span_Event{
			Name:         e.Name,
			TimeUnixNano: unixNano(e.Time),
			Attributes:   KeyValues(e.Attrs),
		})
	}
	return ps
}

// ResourceProto converts resource attributes to OTLP, sorted by key so that the
// same attributes always encode to the same bytes.
func ResourceProto(attrs []attribute.KeyValue) *resourcepb.Resource {
	sorted := append([]attribute.KeyValue(nil), attrs...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Key < sorted[j].Key })
	// Later duplicates win, as in the SDK's resource merge.
	out := sorted[:0]
	for _, kv := range sorted {
		if n := len(out); n > 0 && out[n-1].Key == kv.Key {
			out[n-1] = kv
			continue
		}
		out = append(out, kv)
	}
	return &resourcepb.Resource{Attributes: KeyValues(out)}
}

// KeyValues converts OTel attributes to OTLP key-values.
func KeyValues(attrs []attribute.KeyValue) []*commonpb.KeyValue {
	if len(attrs) == 0 {
		return nil
	}
	out := make([]*commonpb.KeyValue, 0, len(attrs))
	for _, kv := range attrs {
		out = append(out, &commonpb.KeyValue{Key: string(kv.Key), Value: anyValue(kv.Value)})
	}
	return out
}

func anyValue(v attribute.Value) *commonpb.AnyValue {
	switch v.Type() {
	case attribute.BOOL:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: v.AsBool()}}
	case attribute.INT64:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v.AsInt64()}}
	case attribute.FLOAT64:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: v.AsFloat64()}}
	case attribute.STRINGSLICE:
		ss := v.AsStringSlice()
		vals := make([]*commonpb.AnyValue, len(ss))
		for i, s := range ss {
			vals[i] = &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
		}
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: vals}}}
	case attribute.INT64SLICE:
		is := v.AsInt64Slice()
		vals := make([]*commonpb.AnyValue, len(is))
		for i, n := range is {
			vals[i] = &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: n}}
		}
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: vals}}}
	case attribute.BOOLSLICE:
		bs := v.AsBoolSlice()
		vals := make([]*commonpb.AnyValue, len(bs))
		for i, b := range bs {
			vals[i] = &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: b}}
		}
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: vals}}}
	case attribute.FLOAT64SLICE:
		fs := v.AsFloat64Slice()
		vals := make([]*commonpb.AnyValue, len(fs))
		for i, f := range fs {
			vals[i] = &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: f}}
		}
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: vals}}}
	default:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v.String()}}
	}
}

func unixNano(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	n := t.UnixNano()
	if n < 0 {
		return 0
	}
	return uint64(n)
}
