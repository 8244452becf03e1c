package export

import (
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/spool"
)

// Field numbers of the OTLP messages a request is assembled from
// (opentelemetry/proto/collector/trace/v1 and trace/v1).
const (
	fieldRequestResourceSpans protowire.Number = 1 // ExportTraceServiceRequest.resource_spans
	fieldResourceSpansRes     protowire.Number = 1 // ResourceSpans.resource
	fieldResourceSpansScopes  protowire.Number = 2 // ResourceSpans.scope_spans
	fieldScopeSpansScope      protowire.Number = 1 // ScopeSpans.scope
	fieldScopeSpansSpans      protowire.Number = 2 // ScopeSpans.spans
	fieldScopeName            protowire.Number = 1 // InstrumentationScope.name
)

// scopeBytes is the encoded InstrumentationScope every span is sent under.
var scopeBytes = protowire.AppendString(protowire.AppendTag(nil, fieldScopeName, protowire.BytesType), genai.ScopeName)

// assembleRequest encodes an OTLP ExportTraceServiceRequest from the spool's
// encoded spans and resources, without decoding them: spans are grouped by
// identical resource bytes in first-seen order, each group a ResourceSpans
// with one ScopeSpans under genai.ScopeName. Decoded, the result equals the
// request built from the decoded spans (and is byte for byte what
// proto.Marshal makes of it, for canonically encoded records).
//
// Items whose span or resource is not well-formed protobuf are left out and
// returned in bad.
func assembleRequest(items []spool.Item) (body []byte, bad []spool.Item) {
	type group struct {
		res         []byte
		first, last int // items of the group, chained through next
		scopeLen    int // encoded length of its ScopeSpans
	}
	var groups []group
	byRes := map[string]int{} // resource bytes → group index, -1: malformed
	next := make([]int32, len(items))
	for i, it := range items {
		if !wellFormed(it.Span) {
			bad = append(bad, it)
			continue
		}
		g, ok := byRes[string(it.Resource)]
		if !ok {
			g = -1
			if wellFormed(it.Resource) {
				g = len(groups)
				groups = append(groups, group{res: it.Resource, first: i, last: i, scopeLen: fieldLen(fieldScopeSpansScope, len(scopeBytes))})
			}
			byRes[string(it.Resource)] = g
		} else if g >= 0 {
			next[groups[g].last] = int32(i)
			groups[g].last = i
		}
		if g < 0 {
			bad = append(bad, it)
			continue
		}
		next[i] = -1
		groups[g].scopeLen += fieldLen(fieldScopeSpansSpans, len(it.Span))
	}
	size := 0
	for _, g := range groups {
		size += fieldLen(fieldRequestResourceSpans, resourceSpansLen(g.res, g.scopeLen))
	}
	body = make([]byte, 0, size)
	for _, g := range groups {
		body = appendField(body, fieldRequestResourceSpans, resourceSpansLen(g.res, g.scopeLen))
		body = append(appendField(body, fieldResourceSpansRes, len(g.res)), g.res...)
		body = appendField(body, fieldResourceSpansScopes, g.scopeLen)
		body = append(appendField(body, fieldScopeSpansScope, len(scopeBytes)), scopeBytes...)
		for i := g.first; i >= 0; i = int(next[i]) {
			sp := items[i].Span
			body = append(appendField(body, fieldScopeSpansSpans, len(sp)), sp...)
		}
	}
	return body, bad
}

// undecodable returns the items assembleRequest would leave out.
func undecodable(items []spool.Item) []spool.Item {
	var bad []spool.Item
	for _, it := range items {
		if !wellFormed(it.Span) || !wellFormed(it.Resource) {
			bad = append(bad, it)
		}
	}
	return bad
}

// resourceSpansLen is the encoded length of a ResourceSpans holding the
// resource res and one ScopeSpans of scopeLen bytes.
func resourceSpansLen(res []byte, scopeLen int) int {
	return fieldLen(fieldResourceSpansRes, len(res)) + fieldLen(fieldResourceSpansScopes, scopeLen)
}

// fieldLen is the encoded length of a length-delimited field of n bytes.
func fieldLen(num protowire.Number, n int) int {
	return protowire.SizeTag(num) + protowire.SizeBytes(n)
}

// appendField appends the tag and length of a length-delimited field of n
// bytes; its content follows.
func appendField(b []byte, num protowire.Number, n int) []byte {
	return protowire.AppendVarint(protowire.AppendTag(b, num, protowire.BytesType), uint64(n))
}

// wellFormed reports whether b is a sequence of well-formed protobuf fields
// (valid tags and field numbers, lengths within b, groups closed): the
// framing a corrupt record breaks. It decodes no message, so it does not
// check what a full decode also would (UTF-8 in strings, the content of
// nested messages); a record that passes here and still does not decode
// makes the server refuse its request, and the forwarder then splits the
// batch until that span is refused alone.
func wellFormed(b []byte) bool {
	for len(b) > 0 {
		_, _, n := protowire.ConsumeField(b)
		if n < 0 {
			return false
		}
		b = b[n:]
	}
	return true
}
