package main

import (
	"strings"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/control"
	"github.com/weave-agentd/weave-agentd/spool"
)

// A partial success's dead letter lists the spans of its request, one a
// line, with their ids: what a user can look up in the backend.
func TestDeadLettersListShowsAPartialSuccessCandidates(t *testing.T) {
	var b strings.Builder
	err := printDeadLetters(&b, []control.DeadLetterView{
		{Seq: 1, Time: time.Now(), Reason: "HTTP 400: bad span", Span: "execute_tool Bash", Trace: "aa11", SpanID: "bb22"},
		{Seq: 2, Time: time.Now(), Reason: "partial success: 1 of 2 span(s) rejected, the server did not say which (the 2 are listed): too long",
			Candidates: []spool.SpanRef{{TraceID: "cc33", SpanID: "dd44", Name: "chat claude-opus"}, {TraceID: "cc33", SpanID: "ee55", Name: "execute_tool Read"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"execute_tool Bash", "one of the 2 below", "chat claude-opus (span dd44)", "execute_tool Read (span ee55)", "cc33", "too long"} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}
}
