package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/e2e/internal/agentd"
	"github.com/weave-agentd/weave-agentd/e2e/internal/receiver"
)

// BenchmarkBackfill imports a history of many real Claude Code sessions (the
// real fixtures hard-linked under fresh session ids, so every copy is its own
// conversation with its own span ids) and reports MB/s of transcript read and
// the daemon's peak RSS. WEAVE_BENCH_BACKFILL_MB sets the size (default 256).
//
//	cd e2e && WEAVE_BENCH_BACKFILL_MB=1024 go test -run '^$' -bench Backfill -benchtime 1x .
func BenchmarkBackfill(b *testing.B) {
	fx := agentd.Fixtures()
	if fx == "" {
		b.Skip("../shared/fixtures is absent")
	}
	target := int64(256)
	if v, err := strconv.Atoi(os.Getenv("WEAVE_BENCH_BACKFILL_MB")); err == nil && v > 0 {
		target = int64(v)
	}
	target <<= 20
	sources := []string{
		filepath.Join(fx, "claude-code/spotter-v2.1.38-39/4d5611e5-241a-462a-8d15-5122611a9569.jsonl"),
		filepath.Join(fx, "claude-code/entire-checkpoints-v2.1.29-32/ad-a8171575ce-0-full.jsonl"),
		filepath.Join(fx, "claude-code/entire-checkpoints-v2.1.29-32/26-dcd5518fea-0-full.jsonl"),
		filepath.Join(fx, "claude-code/claude-code-viewer-v1.0.98/fe5e1c67-53e7-4862-81ae-d0e013e3270b.jsonl"),
	}
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		rcv := receiver.Start(b)
		h := agentd.NewHome(b)
		h.WriteConfig("endpoint = \"" + rcv.URL() + "\"\n")
		proj := filepath.Join(h.HOME, ".claude", "projects", "-bench-history")
		os.MkdirAll(proj, 0o700)
		old := time.Now().Add(-240 * time.Hour)
		var total int64
		for n := 0; total < target; n++ {
			src := sources[n%len(sources)]
			dst := filepath.Join(proj, fmt.Sprintf("0000%04d-0000-4000-8000-%012d.jsonl", n, n))
			if err := os.Link(src, dst); err != nil {
				agentd.CopyFile(b, src, dst)
			}
			os.Chtimes(dst, old, old)
			fi, _ := os.Stat(dst)
			total += fi.Size()
		}
		if v := os.Getenv("WEAVE_BENCH_DAEMON_ENV"); v != "" {
			h.Env = append(h.Env, strings.Fields(v)...) // e.g. GOGC=50
		}
		d := h.StartDaemon()
		stop := make(chan struct{})
		anon := peakAnon(d.Pid(), stop)
		b.StartTimer()
		start := time.Now()
		r := h.CLI("backfill")
		elapsed := time.Since(start)
		b.StopTimer()
		close(stop)
		if r.Code != 0 {
			b.Fatalf("backfill: %s%s\n%s", r.Stdout, r.Stderr, d.Log())
		}
		b.ReportMetric(float64(total)/(1<<20)/elapsed.Seconds(), "MB/s")
		b.ReportMetric(float64(total)/(1<<20), "MB")
		b.ReportMetric(elapsed.Seconds(), "s")
		b.ReportMetric(float64(vmHWM(d.Pid()))/1024, "peak-RSS-MB")
		b.ReportMetric(float64(<-anon)/1024, "peak-anon-MB")
		b.Logf("%s", strings.TrimSpace(r.Stdout))
		d.Stop()
	}
}

// vmHWM is a process's peak resident set in KiB (Linux), 0 if unknown.
// It includes the pages of the spool file bbolt maps, which are page cache
// the kernel can reclaim; procStatus(pid, "RssAnon") is the process's own.
func vmHWM(pid int) int64 { return procStatus(pid, "VmHWM") }

// procStatus reads one KiB field of /proc/<pid>/status, 0 if unknown.
func procStatus(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, field+":") {
			n, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			return n
		}
	}
	return 0
}

// peakAnon samples a process's anonymous resident memory (heap, stacks: not
// mapped files) every 20 ms until stop is closed, and returns the peak in KiB.
func peakAnon(pid int, stop <-chan struct{}) <-chan int64 {
	out := make(chan int64, 1)
	go func() {
		var peak int64
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			peak = max(peak, procStatus(pid, "RssAnon"))
			select {
			case <-stop:
				out <- peak
				return
			case <-t.C:
			}
		}
	}()
	return out
}
