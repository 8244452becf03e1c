package export

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/internal/testkit"
	"github.com/weave-agentd/weave-agentd/spool"
	"github.com/weave-agentd/weave-agentd/transcript/claude"
)

// decodedRequest is how the export request was built before
// assembleRequest: every span and resource decoded, grouped by resource
// bytes in first-seen order (the client then encoded it again). It is the
// reference assembleRequest is checked against.
func decodedRequest(items []spool.Item) ([]*tracepb.ResourceSpans, []spool.Item) {
	var out []*tracepb.ResourceSpans
	var bad []spool.Item
	byRes := map[string]*tracepb.ScopeSpans{}
	for _, it := range items {
		sp := &tracepb.Span{}
		if err := proto.Unmarshal(it.Span, sp); err != nil {
			bad = append(bad, it)
			continue
		}
		ss, ok := byRes[string(it.Resource)]
		if !ok {
			res := &resourcepb.Resource{}
			if err := proto.Unmarshal(it.Resource, res); err != nil {
				bad = append(bad, it)
				continue
			}
			ss = &tracepb.ScopeSpans{Scope: &commonpb.InstrumentationScope{Name: genai.ScopeName}}
			out = append(out, &tracepb.ResourceSpans{Resource: res, ScopeSpans: []*tracepb.ScopeSpans{ss}})
			byRes[string(it.Resource)] = ss
		}
		ss.Spans = append(ss.Spans, sp)
	}
	return out, bad
}

// checkAssembled checks that the assembled request of items decodes to the
// decoded reference; when exact, also that it is byte for byte its
// deterministic encoding.
func checkAssembled(t *testing.T, items []spool.Item, exact bool) {
	t.Helper()
	want, wantBad := decodedRequest(items)
	body, bad := assembleRequest(items)
	if len(bad) != len(wantBad) {
		t.Fatalf("assembleRequest left out %d item(s), the decoding %d", len(bad), len(wantBad))
	}
	var got coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &got); err != nil {
		t.Fatalf("the assembled request does not decode: %v", err)
	}
	wantReq := &coltracepb.ExportTraceServiceRequest{ResourceSpans: want}
	if !proto.Equal(&got, wantReq) {
		t.Fatalf("assembled request differs from the decoded one:\n got %v\nwant %v", &got, wantReq)
	}
	if exact {
		enc, err := proto.MarshalOptions{Deterministic: true}.Marshal(wantReq)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(body, enc) {
			t.Fatalf("assembled request (%d bytes) is not the encoding of the decoded one (%d bytes)", len(body), len(enc))
		}
	}
}

// randomSpan is a span with a random subset of OTLP's fields.
func randomSpan(r *rand.Rand, i int) *tracepb.Span {
	sp := &tracepb.Span{
		TraceId: make([]byte, 16), SpanId: make([]byte, 8),
		Name:              fmt.Sprintf("span %d ✓", i),
		Kind:              tracepb.Span_SpanKind(r.IntN(6)),
		StartTimeUnixNano: r.Uint64(), EndTimeUnixNano: r.Uint64(),
	}
	for j := range sp.TraceId {
		sp.TraceId[j] = byte(r.IntN(256))
	}
	if r.IntN(2) == 0 {
		sp.ParentSpanId = []byte{1, 2, 3, 4, 5, 6, 7, byte(i)}
	}
	for range r.IntN(6) {
		sp.Attributes = append(sp.Attributes, randomKV(r))
	}
	for range r.IntN(3) {
		sp.Events = append(sp.Events, &tracepb.Span_Event{Name: "event", TimeUnixNano: r.Uint64(), Attributes: []*commonpb.KeyValue{randomKV(r)}})
	}
	if r.IntN(4) == 0 {
		sp.Links = append(sp.Links, &tracepb.Span_Link{TraceId: sp.TraceId, SpanId: []byte{9, 9, 9, 9, 9, 9, 9, 9}, Flags: r.Uint32()})
	}
	if r.IntN(2) == 0 {
		sp.Status = &tracepb.Status{Code: tracepb.Status_StatusCode(r.IntN(3)), Message: "msg"}
	}
	sp.DroppedAttributesCount = uint32(r.IntN(3))
	return sp
}

func randomKV(r *rand.Rand) *commonpb.KeyValue {
	var v *commonpb.AnyValue
	switch r.IntN(7) {
	case 0:
		v = &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: fmt.Sprint("value ", r.IntN(1000))}}
	case 1:
		v = &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: r.Int64() - r.Int64()}}
	case 2:
		v = &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: r.IntN(2) == 0}}
	case 3:
		v = &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: r.NormFloat64()}}
	case 4:
		v = &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: []byte{0, 1, 2}}}
	case 5:
		v = &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{{Value: &commonpb.AnyValue_StringValue{StringValue: "a"}}, {}}}}}
	case 6:
		v = &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: []*commonpb.KeyValue{{Key: "k", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: 7}}}}}}}
	}
	return &commonpb.KeyValue{Key: fmt.Sprint("key.", r.IntN(20)), Value: v}
}

func mustMarshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Decoded, the request assembled from the spool's bytes is the request the
// exporter built by decoding every span and resource, and byte for byte its
// encoding: spans of many shapes, interleaved resources (empty, missing,
// with attributes), fields a newer OTLP adds (unknown to us).
func TestAssembledRequestEqualsDecoded(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	resources := [][]byte{
		nil, // a resource missing from the spool
		mustMarshal(t, &resourcepb.Resource{}),
		mustMarshal(t, genai.ResourceProto([]attribute.KeyValue{attribute.String("service.name", "claude-code"), attribute.String("service.version", "2.1.328")})),
		mustMarshal(t, genai.ResourceProto([]attribute.KeyValue{attribute.String("service.name", "codex")})),
		mustMarshal(t, &resourcepb.Resource{DroppedAttributesCount: 3}),
	}
	// A field number OTLP does not define (yet): kept as it is.
	unknown := protowire.AppendVarint(protowire.AppendTag(nil, 1000, protowire.VarintType), 42)
	checkAssembled(t, nil, true)
	for n := range 300 {
		var items []spool.Item
		nres := 1 + r.IntN(len(resources))
		for i := range r.IntN(40) + 1 {
			sp := mustMarshal(t, randomSpan(r, i))
			if r.IntN(10) == 0 {
				sp = append(sp, unknown...)
			}
			if r.IntN(20) == 0 {
				sp = nil // an empty span decodes too
			}
			items = append(items, spool.Item{Seq: uint64(i + 1), Resource: resources[r.IntN(nres)], Span: sp})
		}
		t.Run(fmt.Sprint(n), func(t *testing.T) { checkAssembled(t, items, true) })
	}
	t.Run("transcript", func(t *testing.T) { checkAssembled(t, fixtureItems(t, 512), true) })
}

// Spool records the decoding refused (truncated, garbage) are left out of
// the request and returned as bad, like the decoding did: they become dead
// letters. Truncated at every length, a record is refused by both or by
// neither.
func TestMalformedRecordsAreLeftOut(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	res := mustMarshal(t, genai.ResourceProto([]attribute.KeyValue{attribute.String("service.name", "claude-code")}))
	good := mustMarshal(t, randomSpan(r, 1))
	full := randomSpan(r, 2)
	full.Attributes = append(full.Attributes, randomKV(r), randomKV(r))
	full.Events = append(full.Events, &tracepb.Span_Event{Name: "e"})
	span := mustMarshal(t, full)
	garbage := [][]byte{
		{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, // a varint that never ends
		{0x00},                   // field number 0
		{0x0a, 0x05, 'a', 'b'},   // a length past the end
		{0x0c},                   // an end group never started
		{0x0b, 0x0a, 0x00},       // a group never closed
		{0x0e, 0x01},             // wire type 6
		{0x0d, 0x01, 0x02},       // a fixed32 cut short
		[]byte("not protobuf\n"), // text
	}
	refused := 0
	for cut := range len(span) {
		tr := span[:cut]
		var sp tracepb.Span
		decodes := proto.Unmarshal(tr, &sp) == nil
		if wellFormed(tr) != decodes {
			t.Errorf("truncated to %d bytes: well-formed %v, decodes %v", cut, wellFormed(tr), decodes)
		}
		if !decodes {
			refused++
		}
	}
	if refused < len(span)/2 {
		t.Fatalf("only %d of %d truncations refused: the span is too simple to test", refused, len(span))
	}
	for _, g := range garbage {
		var sp tracepb.Span
		if proto.Unmarshal(g, &sp) == nil {
			t.Fatalf("%q decodes: not garbage", g)
		}
		if wellFormed(g) {
			t.Errorf("%q: well-formed", g)
		}
	}
	// In a batch: the good spans go, under their resource; the others come
	// back as bad, in order; a malformed resource takes its spans with it.
	items := []spool.Item{{Seq: 1, Resource: res, Span: good}}
	wantBad := []uint64{}
	for i, g := range append(garbage, span[:len(span)-1]) {
		seq := uint64(i + 2)
		items = append(items, spool.Item{Seq: seq, Resource: res, Span: g})
		wantBad = append(wantBad, seq)
	}
	items = append(items, spool.Item{Seq: 100, Resource: res[:len(res)-1], Span: good}, spool.Item{Seq: 101, Resource: res, Span: span})
	wantBad = append(wantBad, 100)
	checkAssembled(t, items, true)
	_, bad := assembleRequest(items)
	var gotBad []uint64
	for _, b := range bad {
		gotBad = append(gotBad, b.Seq)
	}
	if fmt.Sprint(gotBad) != fmt.Sprint(wantBad) {
		t.Errorf("bad %v, want %v", gotBad, wantBad)
	}
	if fmt.Sprint(undecodable(items)) != fmt.Sprint(bad) {
		t.Errorf("undecodable %v, assembleRequest's bad %v", undecodable(items), bad)
	}
}

// FuzzAssembleRequest: whatever the spool holds, a record the decoding
// takes is taken, the request is well-formed, and, for the records the
// decoding takes, it decodes to the decoded request. (A record well-formed
// but not decodable, such as a string that is not UTF-8, goes into the
// request: the server refuses it, and the forwarder's split isolates it.)
func FuzzAssembleRequest(f *testing.F) {
	r := rand.New(rand.NewPCG(5, 6))
	var seed []byte
	for i := range 4 {
		sp, _ := proto.Marshal(randomSpan(r, i))
		seed = append(append(seed, byte(len(sp)), byte(i)), sp...)
	}
	res, _ := proto.Marshal(genai.ResourceProto([]attribute.KeyValue{attribute.String("service.name", "claude-code")}))
	f.Add(seed, res, []byte{})
	f.Add(seed[:len(seed)-3], res[:len(res)-1], []byte{0x0a, 0x00})
	f.Add([]byte{3, 0, 0x0a, 0x01}, []byte{0xff}, []byte{0x12, 0x02, 0xc3, 0x28})
	f.Fuzz(func(t *testing.T, data, resA, resB []byte) {
		var items []spool.Item
		for len(data) >= 2 {
			n, which := min(int(data[0]), len(data)-2), data[1]
			res := resA
			if which&1 == 1 {
				res = resB
			}
			items = append(items, spool.Item{Seq: uint64(len(items) + 1), Resource: res, Span: data[2 : 2+n]})
			data = data[2+n:]
		}
		body, bad := assembleRequest(items)
		if !wellFormed(body) {
			t.Fatal("the assembled request is not well-formed")
		}
		_, decodedBad := decodedRequest(items)
		refused := map[uint64]bool{}
		for _, it := range decodedBad {
			refused[it.Seq] = true
		}
		var taken []spool.Item
		for _, it := range bad {
			if !refused[it.Seq] {
				t.Fatalf("item %d decodes but was left out", it.Seq)
			}
		}
		for _, it := range items {
			if !refused[it.Seq] {
				taken = append(taken, it)
			}
		}
		// Records that decode may be encoded otherwise than proto.Marshal
		// would: equal once decoded, not byte for byte.
		checkAssembled(t, taken, false)
	})
}

// fixtureItems are n spool items of the spans the Claude Code builder makes
// of a real transcript (the fixture's spans, repeated as needed), encoded as
// the daemon spools them.
func fixtureItems(tb testing.TB, n int) []spool.Item {
	tb.Helper()
	path := filepath.Join(testkit.Fixtures(tb), "claude-code", "spotter-v2.1.38-39", "4d5611e5-241a-462a-8d15-5122611a9569.jsonl")
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	b := claude.New("bench", claude.Options{TranscriptPath: path})
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		b.Line(path, sc.Bytes())
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	b.Settle()
	spans := b.Take()
	if len(spans) == 0 {
		tb.Fatal("no spans from the fixture")
	}
	items := make([]spool.Item, n)
	for i := range items {
		sp := spans[i%len(spans)]
		items[i] = spool.Item{Seq: uint64(i + 1), Resource: mustMarshal(tb, genai.ResourceProto(sp.Resource)), Span: mustMarshal(tb, sp.Proto())}
	}
	return items
}

// BenchmarkExportRequest builds the request body of 512 spans of a real
// transcript: before, decoding the spool's spans and encoding them again
// (what otlptracehttp's proto.Marshal did with them); now, assembling the
// stored bytes.
func BenchmarkExportRequest(b *testing.B) {
	items := fixtureItems(b, 512)
	size := 0
	for _, it := range items {
		size += len(it.Span)
	}
	b.Run("decode+marshal", func(b *testing.B) {
		b.SetBytes(int64(size))
		b.ReportAllocs()
		for b.Loop() {
			rs, _ := decodedRequest(items)
			if _, err := proto.Marshal(&coltracepb.ExportTraceServiceRequest{ResourceSpans: rs}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("assemble", func(b *testing.B) {
		b.SetBytes(int64(size))
		b.ReportAllocs()
		for b.Loop() {
			assembleRequest(items)
		}
	})
}
