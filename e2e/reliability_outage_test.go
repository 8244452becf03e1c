package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/e2e/internal/agentd"
	"github.com/weave-agentd/weave-agentd/e2e/internal/receiver"
)

// The outage test (DESIGN invariants 3 and 4, and the status contract).
// daemon → front (can be down; 400s one poisoned span) → Faulty (503/429)
// → the Collector's receiver. Phases: server down (connection refused),
// 503 with Retry-After, 429 with Retry-After, then up again with one span
// rejected for good. status tells the truth at each phase; at the end
// everything but the poisoned span arrived exactly once, and the poisoned
// span is a dead letter with its reason.
func TestOutageDown503429ThenPoisonedSpan(t *testing.T) {
	t.Parallel()
	rcv := receiver.Start(t)
	faulty := receiver.NewFaulty(t, rcv.Endpoint())
	front := newRelFront(t, faulty.Endpoint())
	front.stop() // phase 1: nothing listens on the endpoint

	h := agentd.NewHome(t)
	h.WriteConfig("endpoint = \"" + front.URL() + "\"\n")
	h.StartDaemon()
	relFeed(t, h, relScenarios(t, "bash", "bash_failure", "parallel_tools", "subagent", "plain"))

	// Phase 1: connection refused.
	st := relWaitStatus(t, h, "failing exports while the server is down", func(s relStatus) bool {
		return s.Code == 1 && !s.ExportHealthy && s.Spool.Depth > 0 && s.Counters["failed"] >= 1 && s.FailingSince != ""
	})
	if !strings.Contains(st.lastError(), "refused") {
		t.Errorf("down: last error %q does not say the connection was refused", st.lastError())
	}
	t.Logf("down: exit %d, depth %d, failed %d, last error %q", st.Code, st.Spool.Depth, st.Counters["failed"], st.lastError())

	// Phase 2: 503 with Retry-After: 2.
	faulty.Set(receiver.Unavailable("2"))
	front.start()
	st = relWaitStatus(t, h, "a 503 as the last error", func(s relStatus) bool {
		return strings.Contains(s.lastError(), "503")
	})
	if st.Code != 1 || st.ExportHealthy {
		t.Errorf("503: status exit %d export_healthy %v, want 1 and false:\n%s", st.Code, st.ExportHealthy, st.Raw)
	}
	failedAt503 := st.Counters["failed"]

	// Phase 3: 429 with Retry-After: 1.
	faulty.Set(receiver.TooManyRequests("1"))
	st = relWaitStatus(t, h, "a 429 as the last error", func(s relStatus) bool {
		return strings.Contains(s.lastError(), "429")
	})
	if st.Code != 1 || st.ExportHealthy || st.Counters["failed"] <= failedAt503 {
		t.Errorf("429: status exit %d export_healthy %v failed %d (was %d at the 503):\n%s", st.Code, st.ExportHealthy, st.Counters["failed"], failedAt503, st.Raw)
	}
	if r := h.CLI("deadletters", "list", "--json"); r.Code != 0 || strings.TrimSpace(r.Stdout) != "[]" {
		t.Errorf("no dead letters expected from transient failures; got exit %d %s%s", r.Code, r.Stdout, r.Stderr)
	}
	// Retry-After was honoured so far (flush, below, skips every wait on
	// purpose): the attempt after a 503 "2" came ≥ 2s later.
	flushAt := time.Now()
	if r := h.CLI("flush", "--timeout", "1s"); r.Code != 1 || !strings.Contains(r.Stderr, "still waiting") || !strings.Contains(r.Stderr, "429") {
		t.Errorf("flush while rate-limited: exit %d, want 1 saying what waits and why (429): %s%s", r.Code, r.Stdout, r.Stderr)
	}
	relCheckRetryAfter(t, faulty.Requests(), flushAt)

	// Phase 4: the server is back, but rejects one span for good (400).
	front.setPoison()
	faulty.Clear()
	if r := h.CLI("flush", "--timeout", "60s"); r.Code != 0 {
		t.Fatalf("flush after recovery: exit %d %s%s", r.Code, r.Stdout, r.Stderr)
	}
	relSettle(t, h, rcv)
	poison, rejections := front.poisoned()
	if poison == "" {
		t.Fatal("no execute_tool span was ever exported to poison")
	}
	st = relGetStatus(t, h)
	if st.Code != 0 || !st.ExportHealthy || st.Spool.Depth != 0 {
		t.Errorf("after recovery: status exit %d export_healthy %v depth %d, want 0, true, 0:\n%s", st.Code, st.ExportHealthy, st.Spool.Depth, st.Raw)
	}
	got := rcv.Spans()
	uniq := receiver.Unique(got)
	if d := rcv.Duplicates(); len(d) > 0 {
		t.Errorf("spans received more than once: %v", d)
	}
	if rcv.Count(poison) != 0 {
		t.Errorf("the poisoned span %s reached the server", poison)
	}
	c := st.Counters
	if c["dead_lettered"] != 1 || st.Spool.DeadLetters != 1 {
		t.Errorf("dead_lettered counter %d, dead letters %d; want 1 and 1", c["dead_lettered"], st.Spool.DeadLetters)
	}
	if c["exported"] != int64(len(uniq)) || c["exported"]+c["dead_lettered"] != c["spans"] || c["dropped"] != 0 {
		t.Errorf("counters %v: want exported = %d (received), exported + dead_lettered = spans, dropped 0", c, len(uniq))
	}
	answered := 0
	for _, r := range faulty.Requests() {
		if r.Status == 503 || r.Status == 429 {
			answered++
		}
	}
	if c["failed"] < int64(answered)+1 {
		t.Errorf("failed counter %d, but %d requests were answered 503/429 and some were refused", c["failed"], answered)
	}
	if st.lastError() != "" {
		t.Errorf("last error %q still reported after recovery", st.lastError())
	}
	r := h.CLI("deadletters", "list", "--json")
	var dls []struct {
		Reason string `json:"reason"`
		SpanID string `json:"span_id"`
		Span   string `json:"span"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &dls); err != nil || r.Code != 0 {
		t.Fatalf("deadletters list --json: exit %d %v\n%s%s", r.Code, err, r.Stdout, r.Stderr)
	}
	if len(dls) != 1 || dls[0].SpanID != poison || !strings.Contains(dls[0].Reason, "400") || !strings.HasPrefix(dls[0].Span, "execute_tool") {
		t.Errorf("dead letters %+v: want exactly the poisoned span %s with an HTTP 400 reason", dls, poison)
	}
	// Every turn of the five sessions is there.
	turns := 0
	for _, s := range uniq {
		if s.Name == "invoke_agent claude-code" {
			turns++
		}
	}
	if turns < 5 {
		t.Errorf("%d turn spans received, want at least one per session (5)", turns)
	}
	t.Logf("recovered: %d spans received once each, poisoned %s rejected %d time(s) while isolated, counters %v", len(uniq), poison, rejections, c)
}

// relCheckRetryAfter checks that, before the moment until, the attempt after
// an answer with Retry-After: N came at least N seconds later.
func relCheckRetryAfter(t *testing.T, reqs []receiver.Request, until time.Time) {
	t.Helper()
	checked := 0
	for i := 0; i+1 < len(reqs); i++ {
		ra := reqs[i].Fault.RetryAfter
		if ra == "" || reqs[i].Status == 0 || !reqs[i+1].Time.Before(until) {
			continue
		}
		want := map[string]time.Duration{"1": time.Second, "2": 2 * time.Second}[ra]
		gap := reqs[i+1].Time.Sub(reqs[i].Time)
		if gap < want-50*time.Millisecond {
			t.Errorf("request %d answered %d with Retry-After %s; the next came after %s", i, reqs[i].Status, ra, gap)
		}
		checked++
	}
	if checked == 0 {
		t.Errorf("no attempt followed an answer with Retry-After before the flush")
	}
}
