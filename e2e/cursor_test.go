package e2e

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/weave-agentd/weave-agentd/e2e/internal/agentd"
	"github.com/weave-agentd/weave-agentd/e2e/internal/receiver"
)

// Real cursor-agent payloads through the real hook binary: the hook answers
// Cursor's way, and the conversation reaches the Collector with the same shape
// as a Claude Code one (turn → tool spans), each event counted once even when
// Cursor also runs the hook imported from Claude Code's settings.
func TestCursorPayloadsReachCollector(t *testing.T) {
	fx := agentd.Fixtures()
	if fx == "" {
		t.Skip("../shared/fixtures is absent")
	}
	rcv := receiver.Start(t)
	h := agentd.NewHome(t)
	h.WriteConfig("endpoint = \"" + rcv.URL() + "\"\n")
	h.StartDaemon()
	dir := filepath.Join(fx, "cursor", "forgelore-hooks-2026.10.01")
	for _, name := range []string{"sessionStart-1", "postToolUseFailure-1", "afterShellExecution-1", "postToolUse-1", "afterShellExecution-2", "sessionEnd-1"} {
		b, err := os.ReadFile(filepath.Join(dir, name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		b = agentd.RewriteTranscriptPath(t, b, "")
		for copyN := 0; copyN < 2; copyN++ { // native hooks.json and the Claude Code import
			r := h.Hook(append([]byte("\xEF\xBB\xBF"), b...))
			if r.Code != 0 || r.Stdout != "{}\n" || r.Stderr != "" {
				t.Fatalf("hook %s: code=%d stdout=%q stderr=%q", name, r.Code, r.Stdout, r.Stderr)
			}
		}
	}
	if r := h.CLI("flush", "--timeout", "30s"); r.Code != 0 {
		t.Fatalf("flush: %s%s", r.Stdout, r.Stderr)
	}
	spans := waitSpans(t, rcv, func(s []receiver.Span) bool { return len(receiver.ByName(s, "invoke_agent cursor")) > 0 })
	turns := receiver.ByName(spans, "invoke_agent cursor")
	shells := receiver.ByName(spans, "execute_tool Shell")
	if len(turns) != 1 || len(shells) != 2 {
		t.Fatalf("want one turn and two Shell tool spans (no duplicates from afterShellExecution or the imported copy), got %v", names(spans))
	}
	failed := 0
	for _, s := range shells {
		if s.ParentSpanID != turns[0].SpanID || s.TraceID != turns[0].TraceID {
			t.Errorf("tool span %s is not a child of the turn", s.SpanID)
		}
		if s.StatusCode == "Error" {
			failed++
		}
		if _, ok := s.Attributes["gen_ai.usage.input_tokens"]; ok {
			t.Errorf("Cursor span carries invented token usage")
		}
	}
	if failed != 1 {
		t.Errorf("want exactly the failing go build in error, got %d", failed)
	}
	if turns[0].Resource["service.name"] != "cursor" || turns[0].Attr("gen_ai.conversation.id") == "" {
		t.Errorf("turn resource %v conversation %q", turns[0].Resource, turns[0].Attr("gen_ai.conversation.id"))
	}
	if _, ok := turns[0].Resource["user.email"]; ok {
		t.Error("user email sent although the config did not ask for it")
	}
	assertNoDuplicates(t, rcv)
}
