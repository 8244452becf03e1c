package daemon

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/config"
	"github.com/weave-agentd/weave-agentd/control"
	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/hooks"
	"github.com/weave-agentd/weave-agentd/transcript"
	"github.com/weave-agentd/weave-agentd/transcript/claude"
)

const benchFixtureSession = "4d5611e5-241a-462a-8d15-5122611a9569"

// BenchmarkBackfillInProcess is the backfill pipeline (tail, reconstruct,
// redact, encode, commit, export to a local sink) in one process, for
// profiling. "sessions" is 40 links to one 3 MB transcript; "single-200MB"
// is one 200 MB transcript (the fixture repeated under fresh ids);
// "single-200MB-no-export" the same with the export refused (the pipeline
// alone):
//
//	go test -run '^$' -bench BackfillInProcess -benchtime 1x -cpuprofile cpu.out ./daemon
//
// cpu-s is the process's user+system CPU time during the backfill: on a
// shared machine it is steadier than the wall clock.
func BenchmarkBackfillInProcess(b *testing.B) {
	src := filepath.Join("..", "..", "shared", "fixtures", "claude-code", "spotter-v2.1.38-39", benchFixtureSession+".jsonl")
	if _, err := os.Stat(src); err != nil {
		b.Skip("fixtures absent")
	}
	b.Run("sessions", func(b *testing.B) {
		benchBackfill(b, true, func(proj string) {
			for n := 0; n < 40; n++ {
				os.Link(src, filepath.Join(proj, fmt.Sprintf("%08d-0000-4000-8000-000000000000.jsonl", n)))
			}
		})
	})
	raw, err := os.ReadFile(src)
	if err != nil {
		b.Fatal(err)
	}
	single := func(proj string) {
		if err := os.WriteFile(filepath.Join(proj, benchFixtureSession+".jsonl"), repeatTranscript(raw, 200<<20), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("single-200MB", func(b *testing.B) { benchBackfill(b, true, single) })
	// The pipeline alone (read → redact → parse → build → encode → commit):
	// the target refuses, so the forwarder only backs off, and the spool
	// takes every span (its mapped pages grow with them).
	b.Run("single-200MB-no-export", func(b *testing.B) { benchBackfill(b, false, single) })
}

var (
	benchUUID = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	benchID   = regexp.MustCompile(`(msg|toolu|req)_[A-Za-z0-9]+`)
)

// repeatTranscript repeats a transcript until it holds size bytes, each copy
// under fresh record, message and tool ids (the session id stays).
func repeatTranscript(raw []byte, size int) []byte {
	type span struct{ at, end int }
	var uuids, ids []span
	for _, m := range benchUUID.FindAllIndex(raw, -1) {
		if string(raw[m[0]:m[1]]) != benchFixtureSession {
			uuids = append(uuids, span{m[0], m[1]})
		}
	}
	for _, m := range benchID.FindAllIndex(raw, -1) {
		ids = append(ids, span{m[0], m[1]})
	}
	out := make([]byte, 0, size+2*len(raw))
	for k := 0; len(out) < size; k++ {
		tag := fmt.Appendf(nil, "%04x", k&0xffff)
		suffix := fmt.Appendf(nil, "x%d", k)
		c := bytes.Clone(raw)
		for _, u := range uuids {
			copy(c[u.at:], tag)
		}
		prev := 0
		for _, id := range ids {
			out = append(out, c[prev:id.end]...)
			out = append(out, suffix...)
			prev = id.end
		}
		out = append(out, c[prev:]...)
	}
	return out
}

func benchBackfill(b *testing.B, export bool, fill func(proj string)) {
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }))
	defer sink.Close()
	target := sink.URL
	if !export {
		target = "http://127.0.0.1:1/v1/traces" // refused
	}
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		home, _ := os.MkdirTemp("", "wabf-")
		root := filepath.Join(home, "projects")
		proj := filepath.Join(root, "-p")
		os.MkdirAll(proj, 0o700)
		fill(proj)
		var total int64
		ents, _ := os.ReadDir(proj)
		for _, e := range ents {
			if fi, err := e.Info(); err == nil {
				total += fi.Size()
			}
		}
		paths, _ := hooks.ResolvePaths(func(k string) string { return map[string]string{"WEAVE_AGENTD_HOME": home}[k] })
		cfg, _ := config.Load("")
		log := slog.New(slog.DiscardHandler)
		d, err := New(Settings{Paths: paths, Config: cfg, Logger: log, Target: config.Target{URL: target},
			Builders: map[string]BuilderFactory{genai.AgentClaudeCode: func(_, s, p string) transcript.Builder {
				return claude.New(s, claude.Options{TranscriptPath: p, ClaudeHome: home, Logger: log})
			}},
			Discover: []DiscoverRoot{{Agent: genai.AgentClaudeCode, Dir: root}}, DiscoverWindow: time.Nanosecond})
		if err != nil {
			b.Fatal(err)
		}
		if err := d.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		debug.FreeOSMemory()                       // the benchmark's copy of the transcript
		oldLimit := debug.SetMemoryLimit(64 << 20) // the daemon's (cmd/weave-agentd)
		resetPeakRSS(b)
		cpu0 := cpuTime()
		b.StartTimer()
		start := time.Now()
		if _, err := d.sess.Backfill(control.BackfillArgs{}); err != nil {
			b.Fatal(err)
		}
		var peakAnon, peakFile int64
		for {
			p, _ := d.sess.BackfillProgress()
			if p.Done {
				break
			}
			anon, file := rssParts()
			peakAnon, peakFile = max(peakAnon, anon), max(peakFile, file)
			time.Sleep(5 * time.Millisecond)
		}
		el := time.Since(start)
		b.StopTimer()
		cpu := cpuTime() - cpu0
		peak := peakRSS(b)
		debug.SetMemoryLimit(oldLimit)
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(total)/(1<<20)/el.Seconds(), "MB/s")
		b.ReportMetric(float64(total)/(1<<20)/cpu.Seconds(), "MB/cpu-s")
		b.ReportMetric(cpu.Seconds(), "cpu-s")
		b.ReportMetric(float64(ms.HeapSys)/(1<<20), "heap-sys-MB")
		b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MB")
		b.ReportMetric(float64(peakAnon)/(1<<20), "peak-anon-MB")
		b.ReportMetric(float64(peakFile)/(1<<20), "peak-file-MB")
		d.Shutdown(context.Background())
		os.RemoveAll(home)
	}
}

// resetPeakRSS sets the process's VmHWM back to its current RSS (Linux).
func resetPeakRSS(b *testing.B) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Logf("peak RSS not measured: %v", err)
	}
}

// peakRSS is the process's VmHWM in bytes (0 where there is none): the
// daemon's heap, its read buffers and the spool's mapped pages, and the
// benchmark's own (the sink, the test binary).
func peakRSS(b *testing.B) int64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				b.Logf("VmHWM %q: %v", v, err)
			}
			return kb << 10
		}
	}
	return 0
}

// rssParts is the process's RssAnon (heap, buffers) and RssFile (mapped
// files: the spool, the binary), sampled.
func rssParts() (anon, file int64) {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	for _, l := range strings.Split(string(raw), "\n") {
		k, v, _ := strings.Cut(l, ":")
		kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		switch k {
		case "RssAnon":
			anon = kb << 10
		case "RssFile":
			file = kb << 10
		}
	}
	return anon, file
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
