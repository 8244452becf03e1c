package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/e2e/internal/agentd"
	"github.com/weave-agentd/weave-agentd/e2e/internal/receiver"
)

// BenchmarkFreshness measures how long after a tool's result line is written
// to a Claude Code transcript its execute_tool span is at the Collector
// (target: p99 ≤ 1 s). The daemon finds the transcript by discovery (no
// hooks), tails it with fsnotify, and exports at once.
//
//	cd e2e && go test -run '^$' -bench Freshness -benchtime 50x .
func BenchmarkFreshness(b *testing.B) {
	rcv := receiver.Start(b)
	h := agentd.NewHome(b)
	h.WriteConfig("endpoint = \"" + rcv.URL() + "\"\n")
	const session = "f0f0f0f0-0000-4000-8000-00000000f0f0"
	dir := filepath.Join(h.HOME, ".claude", "projects", "-w-fresh")
	os.MkdirAll(dir, 0o700)
	path := filepath.Join(dir, session+".jsonl")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	ts := time.Now().UTC()
	stamp := func() string { ts = ts.Add(time.Millisecond); return ts.Format("2006-01-02T15:04:05.000Z") }
	line := func(format string, args ...any) {
		if _, err := fmt.Fprintf(f, format+"\n", args...); err != nil {
			b.Fatal(err)
		}
	}
	env := fmt.Sprintf(`"sessionId":%q,"cwd":"/w/fresh","version":"2.1.328"`, session)
	line(`{"type":"user","uuid":"u0","parentUuid":null,%s,"timestamp":%q,"promptId":"p0","message":{"role":"user","content":"run many tools"}}`, env, stamp())
	h.StartDaemon()
	if r := h.CLI("flush", "--timeout", "30s"); r.Code != 0 { // discovery has found the file
		b.Fatalf("flush: %s%s", r.Stdout, r.Stderr)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := fmt.Sprintf("toolu_fresh_%06d", i)
		line(`{"type":"assistant","uuid":"a%d","parentUuid":"u0",%s,"timestamp":%q,"requestId":"req_%d","message":{"id":"msg_fresh_%d","type":"message","role":"assistant","model":"claude-opus-5","content":[{"type":"tool_use","id":%q,"name":"Bash","input":{"command":"true"}}],"stop_reason":"tool_use","usage":{"input_tokens":10,"output_tokens":5}}}`,
			i, env, stamp(), i, i, id)
		line(`{"type":"user","uuid":"r%d","parentUuid":"a%d",%s,"timestamp":%q,"promptId":"p0","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":%q,"content":"ok"}]},"toolUseResult":{"stdout":"ok","stderr":""}}`,
			i, i, env, stamp(), id)
		written := time.Now()
		deadline := written.Add(10 * time.Second)
		for {
			if found(rcv, id) {
				lat = append(lat, time.Since(written))
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("span of %s never arrived", id)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[(len(lat)-1)*99/100].Microseconds())/1000, "p99-ms")
}

func found(rcv *receiver.Receiver, toolID string) bool {
	for _, s := range rcv.Spans() {
		if s.Attr("gen_ai.tool.call.id") == toolID {
			return true
		}
	}
	return false
}
