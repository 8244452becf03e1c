package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/e2e/internal/agentd"
	"github.com/weave-agentd/weave-agentd/e2e/internal/receiver"
)

const session291 = "7ee671e6-598e-454b-abd9-a0db9258f0da"

// fixtureSession copies the real 2.1.291 transcript into a fake Claude home
// and returns its path and the real hook payloads of the same session,
// pointed at the copy.
func fixtureSession(t *testing.T, h *agentd.Home) (string, map[string][]byte) {
	t.Helper()
	fx := agentd.Fixtures()
	if fx == "" {
		t.Skip("../shared/fixtures is absent")
	}
	dir := filepath.Join(fx, "claude-code", "forgelore-hooks-v2.1.289-291", "2.1.291")
	tr := filepath.Join(h.HOME, ".claude", "projects", "-private-work", session291+".jsonl")
	agentd.CopyFile(t, filepath.Join(dir, "transcript.jsonl"), tr)
	payloads := map[string][]byte{}
	for _, name := range []string{"SessionStart-1", "PostToolUse-1", "PostToolUseFailure-1", "SessionEnd-1"} {
		b, err := os.ReadFile(filepath.Join(dir, name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		payloads[name] = agentd.RewriteTranscriptPath(t, b, tr)
	}
	return tr, payloads
}

func sendAll(t *testing.T, h *agentd.Home, payloads map[string][]byte) {
	t.Helper()
	for _, name := range []string{"SessionStart-1", "PostToolUseFailure-1", "PostToolUse-1", "SessionEnd-1"} {
		r := h.Hook(payloads[name], "claude")
		if r.Code != 0 || r.Stdout != "" || r.Stderr != "" {
			t.Fatalf("hook %s: code=%d stdout=%q stderr=%q", name, r.Code, r.Stdout, r.Stderr)
		}
	}
}

func waitSpans(t *testing.T, rcv *receiver.Receiver, pred func([]receiver.Span) bool) []receiver.Span {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	spans, err := rcv.WaitFor(ctx, pred)
	if err != nil {
		t.Fatalf("waiting for spans: %v; got %d", err, len(rcv.Spans()))
	}
	return spans
}

func hasTurn(spans []receiver.Span) bool {
	for _, s := range spans {
		if s.Name == "invoke_agent claude-code" && s.Attr("gen_ai.conversation.id") == session291 {
			return true
		}
	}
	return false
}

func assertNoDuplicates(t *testing.T, rcv *receiver.Receiver) {
	t.Helper()
	if d := rcv.Duplicates(); len(d) > 0 {
		t.Fatalf("spans received more than once: %v", d)
	}
}

// The spine with real pieces: the real hook binary, the real daemon process,
// real fixture payloads and transcript, the Collector's own OTLP receiver.
func TestSpineRealHookToCollector(t *testing.T) {
	rcv := receiver.Start(t)
	h := agentd.NewHome(t)
	h.WriteConfig("endpoint = \"" + rcv.URL() + "\"\n")
	h.StartDaemon()
	_, payloads := fixtureSession(t, h)
	sendAll(t, h, payloads)
	if r := h.CLI("flush", "--timeout", "20s"); r.Code != 0 {
		t.Fatalf("flush: %d %s%s", r.Code, r.Stdout, r.Stderr)
	}
	spans := rcv.Spans()
	if !hasTurn(spans) {
		t.Fatalf("no turn span for the session among %d spans", len(spans))
	}
	for _, s := range spans {
		if s.Start.Year() != 2026 || s.End.Before(s.Start) {
			t.Errorf("span %s has times %v..%v; want the transcript's (2026)", s.Name, s.Start, s.End)
		}
		if s.Resource["service.name"] != "claude-code" {
			t.Errorf("span %s resource service.name = %v", s.Name, s.Resource["service.name"])
		}
	}
	assertNoDuplicates(t, rcv)
	st, code := h.Status()
	if code != 0 || st["export_healthy"] != true {
		t.Fatalf("status code=%d %v", code, st)
	}
}

// The receiver is down for a while: flush times out (exit 1), status says
// exports fail (exit 1); when it returns, everything arrives, none twice.
func TestSpineReceiverDownForAWhile(t *testing.T) {
	rcv := receiver.Start(t)
	if err := rcv.Stop(); err != nil {
		t.Fatal(err)
	}
	h := agentd.NewHome(t)
	h.Env = append(h.Env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="+rcv.URL())
	h.StartDaemon()
	_, payloads := fixtureSession(t, h)
	sendAll(t, h, payloads)
	if r := h.CLI("flush", "--timeout", "1s"); r.Code != 1 || !agentd.Contains(r.Stderr, "still waiting") {
		t.Fatalf("flush while down: code=%d %s%s", r.Code, r.Stdout, r.Stderr)
	}
	st, code := h.Status()
	if code != 1 || st["export_healthy"] != false {
		t.Fatalf("status while down: code=%d %v", code, st)
	}
	if err := rcv.Restart(); err != nil {
		t.Fatal(err)
	}
	if r := h.CLI("flush", "--timeout", "20s"); r.Code != 0 {
		t.Fatalf("flush after restart: %d %s%s", r.Code, r.Stdout, r.Stderr)
	}
	if !hasTurn(rcv.Spans()) {
		t.Fatal("turn never arrived")
	}
	assertNoDuplicates(t, rcv)
	if _, code := h.Status(); code != 0 {
		t.Fatalf("status after recovery: %d", code)
	}
}

// The daemon is down: hooks still exit 0 silently and journal to the inbox;
// the daemon drains it on start; then a crash (SIGKILL) and restart send
// nothing twice.
func TestSpineDaemonDownThenUp(t *testing.T) {
	rcv := receiver.Start(t)
	h := agentd.NewHome(t)
	h.WriteConfig("endpoint = \"" + rcv.URL() + "\"\n")
	_, payloads := fixtureSession(t, h)
	sendAll(t, h, payloads)
	if _, err := os.Stat(filepath.Join(h.Dir, "inbox.jsonl")); err != nil {
		t.Fatalf("no inbox journal while the daemon was down: %v", err)
	}
	if st, code := h.Status(); code != 3 || st["running"] != false {
		t.Fatalf("status with no daemon: %d %v", code, st)
	}
	d := h.StartDaemon()
	if r := h.CLI("flush", "--timeout", "20s"); r.Code != 0 {
		t.Fatalf("flush: %d %s%s", r.Code, r.Stdout, r.Stderr)
	}
	if !hasTurn(rcv.Spans()) {
		t.Fatal("turn from the inbox never arrived")
	}
	if _, err := os.Stat(filepath.Join(h.Dir, "inbox.jsonl")); err == nil {
		t.Fatal("inbox not removed after the drain")
	}
	before := len(rcv.Spans())
	d.Kill()
	h.StartDaemon()
	sendAll(t, h, payloads) // same payloads again: new event ids, same derived span ids
	if r := h.CLI("flush", "--timeout", "20s"); r.Code != 0 {
		t.Fatalf("flush after crash: %d %s%s", r.Code, r.Stdout, r.Stderr)
	}
	if after := len(rcv.Spans()); after != before {
		t.Fatalf("restart and replay sent %d more span(s)", after-before)
	}
}
