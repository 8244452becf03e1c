// Package genai is the span model shared by the transcript builders and the
// daemon: a Span record using OpenTelemetry GenAI semantic-convention keys,
// deterministic trace and span ids, and conversion to OTLP protobuf.
//
// Nothing here talks to the network or the disk.
package genai

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"go.opentelemetry.io/otel/attribute"
)

// TraceID and SpanID are the OTLP identifiers, derived (never random) so that
// replaying the same inputs yields the same ids.
type (
	TraceID [16]byte
	SpanID  [8]byte
)

func (t TraceID) String() string { return hex.EncodeToString(t[:]) }
func (s SpanID) String() string  { return hex.EncodeToString(s[:]) }

// IsZero reports whether the id is unset.
func (s SpanID) IsZero() bool { return s == SpanID{} }

// Bounds makes a span's times consistent: a missing start takes the end, and
// an end before the start is moved to it.
func Bounds(start, end time.Time) (time.Time, time.Time) {
	if start.IsZero() {
		start = end
	}
	if end.Before(start) {
		end = start
	}
	return start, end
}

// Span kinds used in span ids (the <kind> of DESIGN.md's id rule).
const (
	KindTurn     = "turn"
	KindChat     = "chat"
	KindTool     = "tool"
	KindSubagent = "subagent"
)

// NewTraceID derives the trace id of one turn:
// the first 16 bytes of SHA-256("<agent>\x00<session>\x00<turn key>").
func NewTraceID(agent, session, turnKey string) TraceID {
	h := sha256.New()
	h.Write([]byte(agent))
	h.Write([]byte{0})
	h.Write([]byte(session))
	h.Write([]byte{0})
	h.Write([]byte(turnKey))
	var id TraceID
	copy(id[:], h.Sum(nil))
	return id
}

// NewSpanID derives a span id inside a trace:
// the first 8 bytes of SHA-256("<trace id hex>\x00<kind>\x00<key>").
// key is the message id, tool_use id, agent id, or "turn".
func NewSpanID(trace TraceID, kind, key string) SpanID {
	h := sha256.New()
	h.Write([]byte(trace.String()))
	h.Write([]byte{0})
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write([]byte(key))
	var id SpanID
	copy(id[:], h.Sum(nil))
	return id
}

// StatusCode mirrors the OTLP status codes.
type StatusCode int

const (
	StatusUnset StatusCode = iota
	StatusOK
	StatusError
)

// Event is a timestamped span event (for example a compaction).
type Event struct {
	Name  string
	Time  time.Time
	Attrs []attribute.KeyValue
}

// Span is one finished span, ready to be encoded and spooled.
type Span struct {
	TraceID  TraceID
	SpanID   SpanID
	ParentID SpanID // zero for a trace's root
	Name     string
	Start    time.Time
	End      time.Time
	Attrs    []attribute.KeyValue
	Events   []Event

	Status        StatusCode
	StatusMessage string

	// Resource describes the agent that produced the span (service.name,
	// service.version, agent extras). The daemon merges it with the host
	// resource before export.
	Resource []attribute.KeyValue
}
