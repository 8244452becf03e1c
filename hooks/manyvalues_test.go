package hooks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// rootsPayload is a Cursor-shaped payload naming n workspace folders.
func rootsPayload(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"conversation_id":"c1","hook_event_name":"stop","cursor_version":"1.7","workspace_roots":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"/home/u/p%d"`, i)
	}
	b.WriteString(`],"cwd":"/w"}`)
	return b.Bytes()
}

// A payload of 250,000 workspace folders (6 MB) cost the hook a decoded
// string each, on every hook call, with the daemon's own decode after it:
// both went past the hook's 200 ms budget. Only one more than the daemon
// takes is decoded; the fields after the list still are.
func TestWorkspaceRootsDecodeIsBounded(t *testing.T) {
	big := rootsPayload(250_000)
	agent, c, valid := detect(big, AgentClaude)
	if agent != AgentCursor || !valid || c.Cwd != "/w" || len(c.WorkspaceRoots) != MaxWorkspaceRoots+1 {
		t.Fatalf("detect: %s valid %v cwd %q, %d roots; want cursor, valid, /w, %d roots", agent, valid, c.Cwd, len(c.WorkspaceRoots), MaxWorkspaceRoots+1)
	}
	if allocs := testing.AllocsPerRun(3, func() { detect(big, AgentClaude) }); allocs > 10*MaxWorkspaceRoots {
		t.Errorf("detect made %.0f allocations on 250,000 roots; want them bounded (at most %d)", allocs, 10*MaxWorkspaceRoots)
	}
	for _, tt := range []struct {
		in   string
		want Roots
	}{
		{`{"workspace_roots":["/a","/b"],"cwd":"/w"}`, Roots{"/a", "/b"}},
		{`{"workspace_roots":["/a",7,{"x":1},"/b"],"cwd":"/w"}`, Roots{"/a", "/b"}},
		{`{"workspace_roots":"/a","cwd":"/w"}`, nil},
		{`{"workspace_roots":null,"cwd":"/w"}`, nil},
	} {
		_, c, valid := detect([]byte(tt.in), AgentCursor)
		if !valid || c.Cwd != "/w" || !reflect.DeepEqual(c.WorkspaceRoots, tt.want) {
			t.Errorf("%s: valid %v, cwd %q, roots %q; want %q", tt.in, valid, c.Cwd, c.WorkspaceRoots, tt.want)
		}
	}
	if _, _, valid := detect([]byte(`{"session_id":"s",`), AgentClaude); valid {
		t.Error("a cut payload is reported valid")
	}
}

// The hook splices the payload into its frame and inbox line instead of
// letting encoding/json re-check and compact it (a third of its time on a
// payload of megabytes). What it writes must still read back as the same
// event, on one line.
func TestEventEncodingSplicesThePayload(t *testing.T) {
	for _, payload := range []string{
		`{"session_id":"s","hook_event_name":"Stop"}`,
		"{\"session_id\":\"s\",\"hook_event_name\":\"Stop\"}\n",
		"{\n  \"session_id\": \"s\",\n  \"text\": \"a <b> & c\\n\"\r\n}\n",
		`["not","an","object"]`,
	} {
		ev := &Event{ID: "e1", Agent: AgentClaude, Name: "Stop", Session: "s", RecvNS: 42, Payload: json.RawMessage(payload), Dropped: []string{"tool_response"}}
		line, err := MarshalEvent(ev)
		if err != nil {
			t.Fatalf("%q: %v", payload, err)
		}
		if bytes.ContainsAny(line, "\r\n") || !json.Valid(line) {
			t.Fatalf("%q: encoded as %q: want one line of JSON", payload, line)
		}
		var got Event
		if err := json.Unmarshal(line, &got); err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		json.Compact(&want, []byte(payload))
		if !bytes.Equal(got.Payload, want.Bytes()) {
			t.Errorf("payload %q read back as %q", payload, got.Payload)
		}
		got.Payload, ev.Payload = nil, nil
		if !reflect.DeepEqual(&got, ev) {
			t.Errorf("event %+v read back as %+v", ev, got)
		}
		var frame bytes.Buffer
		ev.Payload = json.RawMessage(payload)
		if err := writeRequest(&frame, &Request{V: ProtocolVersion, Op: OpEvent, Event: ev}); err != nil {
			t.Fatal(err)
		}
		var req Request
		if err := ReadFrame(&frame, MaxFrame, &req); err != nil || req.Op != OpEvent || req.Event == nil || !bytes.Equal(req.Event.Payload, want.Bytes()) {
			t.Errorf("frame of %q read back as %+v (%v)", payload, req, err)
		}
	}
	if _, err := MarshalEvent(&Event{ID: "e2", Payload: json.RawMessage("{\n\"cut\": ")}); err == nil || strings.Contains(err.Error(), "panic") {
		t.Errorf("an invalid payload on several lines was encoded (err %v)", err)
	}
}
