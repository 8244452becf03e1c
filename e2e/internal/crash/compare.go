package crash

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/weave-agentd/weave-agentd/e2e/internal/receiver"
)

// Change is a span id present in both runs with different content.
type Change struct {
	SpanID string
	Name   string
	What   []string // the fields that differ
}

// Diff compares what the receiver got in a run against the reference run.
type Diff struct {
	Expected int // distinct span ids in the reference
	Got      int // distinct span ids in the run
	Missing  []receiver.Span
	Extra    []receiver.Span
	Changed  []Change
	// TimesDiffer counts ids whose content is equal but whose start or end
	// time differs (hook receive times are wall-clock; reported, not judged).
	TimesDiffer int
	TimeNotes   []string // which, and by how much
}

// OK reports no missing, no extra and no changed span.
func (d Diff) OK() bool { return len(d.Missing) == 0 && len(d.Extra) == 0 && len(d.Changed) == 0 }

func (d Diff) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "expected %d distinct spans, got %d: %d missing, %d unexpected, %d with other content (%d with other times only)",
		d.Expected, d.Got, len(d.Missing), len(d.Extra), len(d.Changed), d.TimesDiffer)
	for _, n := range d.TimeNotes {
		fmt.Fprintf(&b, "\n  other time %s", n)
	}
	for i, s := range d.Missing {
		if i == 20 {
			fmt.Fprintf(&b, "\n  … %d more missing", len(d.Missing)-i)
			break
		}
		fmt.Fprintf(&b, "\n  missing    %s %s %q (conversation %s)", s.TraceID, s.SpanID, s.Name, s.Attr("gen_ai.conversation.id"))
	}
	for i, s := range d.Extra {
		if i == 20 {
			fmt.Fprintf(&b, "\n  … %d more unexpected", len(d.Extra)-i)
			break
		}
		fmt.Fprintf(&b, "\n  unexpected %s %s %q (conversation %s)", s.TraceID, s.SpanID, s.Name, s.Attr("gen_ai.conversation.id"))
	}
	for i, c := range d.Changed {
		if i == 20 {
			fmt.Fprintf(&b, "\n  … %d more changed", len(d.Changed)-i)
			break
		}
		fmt.Fprintf(&b, "\n  changed    %s %q: %s", c.SpanID, c.Name, strings.Join(c.What, "; "))
	}
	return b.String()
}

// Compare matches spans by span id (the last copy of each).
func Compare(ref, got []receiver.Span) Diff {
	r, g := receiver.Unique(ref), receiver.Unique(got)
	d := Diff{Expected: len(r), Got: len(g)}
	byID := map[string]receiver.Span{}
	for _, s := range g {
		byID[s.SpanID] = s
	}
	seen := map[string]bool{}
	for _, e := range r {
		seen[e.SpanID] = true
		s, ok := byID[e.SpanID]
		if !ok {
			d.Missing = append(d.Missing, e)
			continue
		}
		if what := contentDiff(e, s); len(what) > 0 {
			d.Changed = append(d.Changed, Change{SpanID: e.SpanID, Name: e.Name, What: what})
		} else if !e.Start.Equal(s.Start) || !e.End.Equal(s.End) {
			d.TimesDiffer++
			d.TimeNotes = append(d.TimeNotes, fmt.Sprintf("%s %q start %+v end %+v", e.SpanID, e.Name, s.Start.Sub(e.Start), s.End.Sub(e.End)))
		}
	}
	for _, s := range g {
		if !seen[s.SpanID] {
			d.Extra = append(d.Extra, s)
		}
	}
	return d
}

// contentDiff lists the differing fields among those that must not depend on
// timing: trace, parent, name, kind, attributes, status, events, links,
// resource.
func contentDiff(a, b receiver.Span) []string {
	var out []string
	if a.TraceID != b.TraceID {
		out = append(out, "trace "+a.TraceID+" vs "+b.TraceID)
	}
	if a.ParentSpanID != b.ParentSpanID {
		out = append(out, fmt.Sprintf("parent %q vs %q", a.ParentSpanID, b.ParentSpanID))
	}
	if a.Name != b.Name {
		out = append(out, fmt.Sprintf("name %q vs %q", a.Name, b.Name))
	}
	if a.Kind != b.Kind {
		out = append(out, "kind "+a.Kind+" vs "+b.Kind)
	}
	if a.StatusCode != b.StatusCode || a.StatusMessage != b.StatusMessage {
		out = append(out, fmt.Sprintf("status %s %q vs %s %q", a.StatusCode, a.StatusMessage, b.StatusCode, b.StatusMessage))
	}
	keys := map[string]bool{}
	for k := range a.Attributes {
		keys[k] = true
	}
	for k := range b.Attributes {
		keys[k] = true
	}
	var ks []string
	for k := range keys {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	for _, k := range ks {
		if !reflect.DeepEqual(a.Attributes[k], b.Attributes[k]) {
			out = append(out, fmt.Sprintf("attribute %s: %s vs %s", k, short(a.Attributes[k]), short(b.Attributes[k])))
		}
	}
	if !reflect.DeepEqual(eventShapes(a), eventShapes(b)) {
		out = append(out, fmt.Sprintf("events %v vs %v", eventShapes(a), eventShapes(b)))
	}
	if !reflect.DeepEqual(a.Links, b.Links) {
		out = append(out, "links differ")
	}
	if !reflect.DeepEqual(a.Resource, b.Resource) {
		out = append(out, fmt.Sprintf("resource %v vs %v", a.Resource, b.Resource))
	}
	return out
}

func eventShapes(s receiver.Span) []string {
	var out []string
	for _, e := range s.Events {
		out = append(out, fmt.Sprintf("%s%v", e.Name, e.Attributes))
	}
	return out
}

func short(v any) string {
	if v == nil {
		return "<absent>"
	}
	s := fmt.Sprint(v)
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// Sent is one export request as it reached the server: which daemon
// process sent it (its generation: 0 for the first daemon, +1 after every
// restart), whether the server accepted it, and its spans.
type Sent struct {
	Gen      int
	Accepted bool
	At       time.Time
	Spans    []receiver.Span
}

// Redelivery is one span the server accepted again.
type Redelivery struct {
	SpanID    string
	Name      string
	FirstGen  int
	SecondGen int
	Identical bool // the copy equals the first one (all fields but batch and arrival)
	// Explained: the first copy came in the last request the server accepted
	// from a daemon that was then killed, and the second from a later daemon:
	// the crash fell between acceptance and the local delete.
	Explained bool
	Why       string
}

// Redeliveries lists every repeated acceptance of a span id and judges it
// against invariant 3: a span is sent again only by a later daemon than the
// one whose last accepted request carried it (that daemon was killed before
// it could delete the span locally).
func Redeliveries(sent []Sent) []Redelivery {
	lastAccepted := map[int]int{} // gen -> index of its last accepted request
	for i, r := range sent {
		if r.Accepted {
			lastAccepted[r.Gen] = i
		}
	}
	type first struct {
		req  int
		span receiver.Span
	}
	seen := map[string]first{}
	var out []Redelivery
	for i, r := range sent {
		if !r.Accepted {
			continue
		}
		for _, s := range r.Spans {
			f, ok := seen[s.SpanID]
			if !ok {
				seen[s.SpanID] = first{i, s}
				continue
			}
			g1 := sent[f.req].Gen
			d := Redelivery{SpanID: s.SpanID, Name: s.Name, FirstGen: g1, SecondGen: r.Gen, Identical: identical(f.span, s)}
			switch {
			case r.Gen <= g1:
				d.Why = fmt.Sprintf("sent again by the same daemon (#%d)", g1)
			case lastAccepted[g1] != f.req:
				d.Why = fmt.Sprintf("daemon #%d had it accepted in request %d but its last accepted request was %d (so it had been deleted locally), and daemon #%d sent it again",
					g1, f.req, lastAccepted[g1], r.Gen)
			default:
				d.Explained = true
			}
			seen[s.SpanID] = first{i, s}
			out = append(out, d)
		}
	}
	return out
}

func identical(a, b receiver.Span) bool {
	a.Batch, b.Batch = 0, 0
	a.ReceivedAt, b.ReceivedAt = time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b)
}
