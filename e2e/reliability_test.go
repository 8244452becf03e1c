package e2e

// Shared helpers of the reliability tests (RELIABILITY.md lists what each
// test proves).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/e2e/internal/agentd"
	"github.com/weave-agentd/weave-agentd/e2e/internal/crash"
	"github.com/weave-agentd/weave-agentd/e2e/internal/receiver"
	"github.com/weave-agentd/weave-agentd/hooks"
)

// relScenarios loads the named Claude Code 2.1.328 scenarios (all when none
// is named).
func relScenarios(t *testing.T, names ...string) []*crash.Session {
	t.Helper()
	all, err := crash.ScenarioSessions(agentd.RepoRoot())
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		return all
	}
	var out []*crash.Session
	for _, s := range all {
		for _, n := range names {
			if strings.HasSuffix(s.Name, "/"+n) {
				out = append(out, s)
			}
		}
	}
	if len(out) != len(names) {
		t.Fatalf("scenarios %v: found %d", names, len(out))
	}
	return out
}

// relFeed writes the sessions' transcripts and sends their hooks through the
// real hook binary, quickly (fixed seed), and checks every hook exited 0
// silently.
func relFeed(t *testing.T, h *agentd.Home, sessions []*crash.Session) []crash.HookResult {
	t.Helper()
	ops := crash.Plan(sessions, rand.New(rand.NewSource(1)), crash.PlanOptions{MaxPause: time.Millisecond})
	f := &crash.Feeder{Home: h.HOME, HookBin: filepath.Join(h.Bin, "weave-agentd-hook"), Env: h.Environ()}
	if err := f.Run(ops); err != nil {
		t.Fatal(err)
	}
	relCheckHooks(t, f.Hooks())
	return f.Hooks()
}

// relStatus is `weave-agentd status --json`, decoded into what the tests use.
type relStatus struct {
	Code          int
	Running       bool   `json:"running"`
	ExportHealthy bool   `json:"export_healthy"`
	FailingSince  string `json:"failing_since"`
	Spool         struct {
		Depth         int64 `json:"depth"`
		Bytes         int64 `json:"bytes"`
		PendingEvents int64 `json:"pending_events"`
		DeadLetters   int64 `json:"dead_letters"`
		FileBytes     int64 `json:"file_bytes"`
		LastError     *struct {
			Message string `json:"message"`
		} `json:"last_error"`
	} `json:"spool"`
	Counters     map[string]int64 `json:"counters"`
	StorageError *struct {
		Message string `json:"message"`
	} `json:"storage_error"`
	Raw string
}

func (s relStatus) lastError() string {
	if s.Spool.LastError == nil {
		return ""
	}
	return s.Spool.LastError.Message
}

func relGetStatus(t *testing.T, h *agentd.Home) relStatus {
	t.Helper()
	r := h.CLI("status", "--json")
	var st relStatus
	if err := json.Unmarshal([]byte(r.Stdout), &st); err != nil {
		t.Fatalf("status --json (exit %d): %v\n%s%s", r.Code, err, r.Stdout, r.Stderr)
	}
	st.Code, st.Raw = r.Code, r.Stdout
	return st
}

// relWaitStatus polls status until ok holds (bounded by 60s).
func relWaitStatus(t *testing.T, h *agentd.Home, what string, ok func(relStatus) bool) relStatus {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st := relGetStatus(t, h)
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("status never showed %s; last (exit %d):\n%s", what, st.Code, st.Raw)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// relFront is an OTLP/HTTP front the test can take down (connection
// refused, same port when it comes back) and that answers 400 for every
// request carrying one chosen span (a "poisoned" span), forwarding the rest
// upstream.
type relFront struct {
	t        *testing.T
	addr     string
	upstream string

	mu       sync.Mutex
	ln       net.Listener
	srv      *http.Server
	poison   bool
	poisonID string
	rejected int
	reqs     int
}

func newRelFront(t *testing.T, upstream string) *relFront {
	f := &relFront{t: t, upstream: strings.TrimRight(upstream, "/")}
	f.start()
	t.Cleanup(f.stop)
	return f
}

func (f *relFront) URL() string { return "http://" + f.addr + receiver.TracesPath }

// relPortBelowEphemeral picks a free port below the kernel's ephemeral
// range: no listener on ":0" and no outgoing connection of a parallel test
// can take it while the front is down, so the front gets it back.
func relPortBelowEphemeral() (net.Listener, error) {
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				low = n
			}
		}
	}
	if low > 11000 {
		for i := 0; i < 100; i++ {
			port := 10000 + rand.Intn(low-10000)
			if ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
				return ln, nil
			}
		}
	}
	return net.Listen("tcp", "127.0.0.1:0")
}

func (f *relFront) start() {
	f.t.Helper()
	var ln net.Listener
	var err error
	if f.addr == "" {
		ln, err = relPortBelowEphemeral()
	} else {
		for i := 0; i < 50; i++ { // the port may linger for a moment after stop
			if ln, err = net.Listen("tcp", f.addr); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if err != nil {
		f.t.Fatalf("front: %v", err)
	}
	srv := &http.Server{Handler: f, ReadHeaderTimeout: 10 * time.Second}
	f.mu.Lock()
	f.ln, f.srv, f.addr = ln, srv, ln.Addr().String()
	f.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

func (f *relFront) stop() {
	f.mu.Lock()
	srv := f.srv
	f.srv = nil
	f.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// setPoison turns the poisoned span on: the first execute_tool span (lowest
// id) of the next request becomes the poison.
func (f *relFront) setPoison() {
	f.mu.Lock()
	f.poison = true
	f.mu.Unlock()
}

func (f *relFront) poisoned() (string, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.poisonID, f.rejected
}

func (f *relFront) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.reqs++
	poison := f.poison
	f.mu.Unlock()
	if poison {
		spans, err := receiver.Request{Body: body, ContentType: req.Header.Get("Content-Type"),
			ContentEncoding: req.Header.Get("Content-Encoding")}.DecodeSpans()
		if err == nil {
			f.mu.Lock()
			if f.poisonID == "" {
				var ids []string
				for _, s := range spans {
					if strings.HasPrefix(s.Name, "execute_tool") {
						ids = append(ids, s.SpanID)
					}
				}
				sort.Strings(ids)
				if len(ids) > 0 {
					f.poisonID = ids[0]
				}
			}
			hit := false
			for _, s := range spans {
				hit = hit || (f.poisonID != "" && s.SpanID == f.poisonID)
			}
			if hit {
				f.rejected++
			}
			f.mu.Unlock()
			if hit {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				_, _ = io.WriteString(w, `{"code":3,"message":"poisoned span rejected by the test server"}`)
				return
			}
		}
	}
	out, err := http.NewRequestWithContext(req.Context(), req.Method, f.upstream+req.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	out.Header = req.Header.Clone()
	resp, err := http.DefaultClient.Do(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	crash.CopyResponse(w, resp)
}

// relVmHWM reads a process's peak resident set size (VmHWM) in bytes.
func relVmHWM(pid int) (int64, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			return kb << 10, err
		}
	}
	return 0, io.EOF
}

// relDaemonPID is the pid `status --json` reports.
// relHookPaths are the socket and inbox the hook uses for h.
func relHookPaths(t *testing.T, h *agentd.Home) hooks.Paths {
	t.Helper()
	paths, err := hooks.ResolvePaths(func(k string) string {
		return map[string]string{"WEAVE_AGENTD_HOME": h.Dir, "HOME": h.HOME}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	return paths
}

func relDaemonPID(t *testing.T, h *agentd.Home) int {
	t.Helper()
	var st struct {
		PID int `json:"pid"`
	}
	r := h.CLI("status", "--json")
	if err := json.Unmarshal([]byte(r.Stdout), &st); err != nil || st.PID == 0 {
		t.Fatalf("status --json has no pid: %v %s", err, r.Stdout)
	}
	return st.PID
}

// relSummary counts the distinct spans per conversation and name.
func relSummary(spans []receiver.Span) string {
	m := map[string]map[string]int{}
	for _, s := range receiver.Unique(spans) {
		c := s.Attr("gen_ai.conversation.id")
		if m[c] == nil {
			m[c] = map[string]int{}
		}
		m[c][s.Name]++
	}
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	var b strings.Builder
	for _, k := range ks {
		fmt.Fprintf(&b, "\n  %s %v", k, m[k])
	}
	return b.String()
}
