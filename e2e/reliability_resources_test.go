package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/e2e/internal/agentd"
	"github.com/weave-agentd/weave-agentd/e2e/internal/receiver"
)

// relIDPattern finds the ids of a Claude Code transcript that must be fresh
// in every repetition: uuids (uuid, parentUuid, promptId, …), message,
// tool-use and request ids.
var relIDPattern = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|msg_[0-9A-Za-z]{10,}|toolu_[0-9A-Za-z]{10,}|req_[0-9A-Za-z]{10,}`)

// relRepeater rewrites a template transcript with fresh ids per repetition
// (the session id stays).
type relRepeater struct {
	template []byte
	ids      []string
}

func newRelRepeater(template []byte, session string) *relRepeater {
	seen := map[string]bool{session: true}
	r := &relRepeater{template: template}
	for _, id := range relIDPattern.FindAllString(string(template), -1) {
		if !seen[id] {
			seen[id] = true
			r.ids = append(r.ids, id)
		}
	}
	return r
}

func (r *relRepeater) rep(k int) []byte {
	pairs := make([]string, 0, 2*len(r.ids))
	for _, id := range r.ids {
		suffix := fmt.Sprintf("%08x", crc32.ChecksumIEEE([]byte(id+strconv.Itoa(k))))
		pairs = append(pairs, id, id[:len(id)-8]+suffix)
	}
	return []byte(strings.NewReplacer(pairs...).Replace(string(r.template)))
}

// relProcStatus reads VmRSS and VmHWM (bytes) of pid.
func relProcStatus(pid int) (rss, hwm int64) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		n, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = n << 10
		case "VmHWM:":
			hwm = n << 10
		}
	}
	return rss, hwm
}

// Memory stays flat on a huge transcript (DESIGN invariant 5): one Claude
// Code session grows to ~200 MB (2 GB with WEAVE_E2E_LONG=1, or
// WEAVE_E2E_BIG_MB) by repeating the real 2.1.328 "bash" session with fresh
// ids, appended in 8 MiB writes while the daemon tails it (found by
// discovery, no hooks). The daemon's peak RSS (VmHWM) must stay under 300
// MiB; every turn but the still-open last one reaches the receiver.
func TestMemoryFlatOnHugeTranscript(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("needs /proc to read the daemon's peak RSS")
	}
	mb := 200
	if relLong() {
		mb = 2048
	}
	if v := os.Getenv("WEAVE_E2E_BIG_MB"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("WEAVE_E2E_BIG_MB=%q", v)
		}
		mb = n
	}
	s := relScenarios(t, "bash")[0]
	var tmpl bytes.Buffer
	for _, l := range s.Lines {
		tmpl.Write(l.Data)
		tmpl.WriteByte('\n')
	}
	rep := newRelRepeater(tmpl.Bytes(), s.ID)

	rcv := receiver.Start(t)
	h := agentd.NewHome(t)
	h.WriteConfig("endpoint = \"" + rcv.URL() + "\"\n")
	h.StartDaemon()
	pid := relDaemonPID(t, h)
	_, hwm0 := relProcStatus(pid)
	path := filepath.Join(h.HOME, ".claude", "projects", "-big", s.ID+".jsonl")
	os.MkdirAll(filepath.Dir(path), 0o755)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	target := int64(mb) << 20
	var written int64
	reps := 0
	var maxRSS int64
	start := time.Now()
	var buf bytes.Buffer
	for written < target {
		buf.Write(rep.rep(reps))
		reps++
		if buf.Len() >= 8<<20 || written+int64(buf.Len()) >= target {
			n, err := f.Write(buf.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			written += int64(n)
			buf.Reset()
			if rss, _ := relProcStatus(pid); rss > maxRSS {
				maxRSS = rss
			}
		}
	}
	f.Close()
	wrote := time.Since(start)
	// Drain: flush reads everything on disk and exports it.
	if r := h.CLI("flush", "--timeout", "20m"); r.Code != 0 {
		t.Fatalf("flush: exit %d %s%s", r.Code, r.Stdout, r.Stderr)
	}
	drained := time.Since(start)
	rss, hwm := relProcStatus(pid)
	if relDaemonPID(t, h) != pid {
		t.Fatal("the daemon restarted")
	}
	turns := len(receiver.ByName(rcv.UniqueSpans(), "invoke_agent claude-code"))
	t.Logf("huge transcript: %d MiB (%d repetitions of %d KiB) written in %s, all exported after %s (%.0f MiB/s); "+
		"%d spans, %d turns; daemon RSS at start peak %d MiB, max sampled %d MiB, now %d MiB, peak (VmHWM) %d MiB",
		written>>20, reps, tmpl.Len()>>10, wrote.Round(time.Millisecond), drained.Round(time.Millisecond),
		float64(written>>20)/drained.Seconds(), len(rcv.UniqueSpans()), turns, hwm0>>20, maxRSS>>20, rss>>20, hwm>>20)
	if hwm > 300<<20 {
		t.Errorf("the daemon's peak RSS was %d MiB on a %d MiB transcript; want < 300 MiB", hwm>>20, written>>20)
	}
	if turns < reps-1 {
		t.Errorf("%d turn spans arrived for %d repetitions (each a turn; the last may stay open)", turns, reps)
	}
	if d := rcv.Duplicates(); len(d) > 0 {
		t.Errorf("%d span id(s) received twice", len(d))
	}
}

// The spool's size cap (DESIGN invariant 5): spool_max_bytes = 64 KiB and
// the server down while eight sessions are traced. The queue never holds
// more than the cap, the oldest spans are dropped and counted, status says
// so, and when the server returns exactly the rest arrives, once.
func TestSpoolCapDropsOldestAndCounts(t *testing.T) {
	t.Parallel()
	const limit = 64 << 10
	rcv := receiver.Start(t)
	front := newRelFront(t, rcv.Endpoint())
	front.stop()
	h := agentd.NewHome(t)
	h.WriteConfig(fmt.Sprintf("endpoint = %q\nspool_max_bytes = %d\n", front.URL(), limit))
	h.StartDaemon()
	relFeed(t, h, relScenarios(t))
	relFlush2 := func() relStatus {
		h.CLI("flush", "--timeout", "1s") // reads every transcript to EOF; exports fail
		return relGetStatus(t, h)
	}
	st := relFlush2()
	time.Sleep(3 * time.Second) // turns closed by Stop settle for 2s
	st = relFlush2()
	t.Logf("server down: spans %d, dropped %d, queue %d span(s) / %d bytes (cap %d), spool file %d KiB, exit %d",
		st.Counters["spans"], st.Counters["dropped"], st.Spool.Depth, st.Spool.Bytes, limit, st.Spool.FileBytes>>10, st.Code)
	if st.Spool.Bytes > limit {
		t.Errorf("the queue holds %d bytes, over the %d-byte cap", st.Spool.Bytes, limit)
	}
	if st.Spool.FileBytes > limit+8<<20 {
		t.Errorf("the spool file is %d KiB with a %d KiB queue cap (sessions' state and events aside, it should stay small)", st.Spool.FileBytes>>10, limit>>10)
	}
	if st.Counters["dropped"] == 0 {
		t.Fatalf("nothing dropped: the test needs more spans than the cap holds (counters %v)", st.Counters)
	}
	if st.Counters["spans"]-st.Counters["dropped"] != st.Spool.Depth {
		t.Errorf("spans %d − dropped %d ≠ queued %d", st.Counters["spans"], st.Counters["dropped"], st.Spool.Depth)
	}
	if st.Code != 1 || st.ExportHealthy {
		t.Errorf("status exit %d export_healthy %v while the server is down", st.Code, st.ExportHealthy)
	}
	front.start()
	relSettle(t, h, rcv)
	st = relGetStatus(t, h)
	got := len(rcv.UniqueSpans())
	if int64(got) != st.Counters["spans"]-st.Counters["dropped"] || st.Counters["exported"] != int64(got) {
		t.Errorf("received %d spans; counters %v: want spans − dropped = exported = received", got, st.Counters)
	}
	if d := rcv.Duplicates(); len(d) > 0 {
		t.Errorf("spans received twice: %v", d)
	}
	if st.Code != 0 || st.Spool.Depth != 0 {
		t.Errorf("after recovery: exit %d depth %d", st.Code, st.Spool.Depth)
	}
	t.Logf("server back: %d received, counters %v", got, st.Counters)
}
