package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weave-agentd/weave-agentd/config"
	"github.com/weave-agentd/weave-agentd/daemon"
	"github.com/weave-agentd/weave-agentd/genai"
	"github.com/weave-agentd/weave-agentd/hooks"
	"github.com/weave-agentd/weave-agentd/transcript"
)

// hugeStdin is a Claude Code PostToolUse whose tool_response carries n
// bytes of file content, in Claude Code's field order (tool_use_id last).
func hugeStdin(session string, n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"session_id":"` + session + `","transcript_path":"/nonexistent/t.jsonl","cwd":"/w","hook_event_name":"PostToolUse",` +
		`"tool_name":"Read","tool_input":{"file_path":"/w/big.log"},"tool_response":{"file":{"content":"`)
	line := `a log line with a \"quoted\" word\n`
	b.WriteString(strings.Repeat(line, n/len(line)+1))
	b.WriteString(`"}},"tool_use_id":"toolu_1","duration_ms":12}`)
	return b.Bytes()
}

// hookRecorder is a span builder that only records the hook events the
// daemon routes to it.
type hookRecorder struct{ got chan<- transcript.Event }

func (r *hookRecorder) Line(string, []byte)           {}
func (r *hookRecorder) Hook(ev transcript.Event)      { r.got <- ev }
func (r *hookRecorder) Tick(time.Time)                {}
func (r *hookRecorder) Take() []genai.Span            { return nil }
func (r *hookRecorder) Files() []string               { return nil }
func (r *hookRecorder) Idle() bool                    { return true }
func (r *hookRecorder) MarshalState() ([]byte, error) { return []byte("{}"), nil }
func (r *hookRecorder) RestoreState([]byte) error     { return nil }
func (r *hookRecorder) Stats() transcript.Stats       { return transcript.Stats{} }

// An agent writes 50 MB to the real hook binary through a pipe. The hook
// stops reading at the frame cap, exits 0, and the daemon receives a valid
// event for the session (the envelope, without the bulk). The agent's write
// of the rest fails (EPIPE), as it does for any hook that ignores stdin. How
// fast this is, is measured in BenchmarkHookHugeStdin, not asserted here.
func TestHugeStdinThroughAPipe(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "weave-agentd-hook")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	got := make(chan transcript.Event, 16)
	home := startDaemon(t, map[string]daemon.BuilderFactory{
		genai.AgentClaudeCode: func(string, string, string) transcript.Builder { return &hookRecorder{got: got} },
	})
	input := hugeStdin("s-pipe", 50<<20)

	cmd := exec.Command(bin, "claude")
	cmd.Env = []string{"WEAVE_AGENTD_HOME=" + home}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	written := make(chan int64, 1)
	go func() {
		var n int64
		for off := 0; off < len(input); off += 1 << 20 {
			w, err := stdin.Write(input[off:min(off+1<<20, len(input))])
			n += int64(w)
			if err != nil {
				break // EPIPE once the hook closed its stdin
			}
		}
		stdin.Close()
		written <- n
	}()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("hook: %v (stderr %q)", err, stderr.String())
	}
	// What the pipe accepted: what the hook read plus the pipe's buffer.
	if n := <-written; n > hooks.MaxFrame+1<<20 {
		t.Errorf("the hook took %d bytes of stdin; it should stop at the cap (%d) plus the pipe's buffer", n, hooks.MaxFrame)
	}
	if stdout.Len() > 0 || stderr.Len() > 0 {
		t.Errorf("the hook printed stdout %q stderr %q", stdout.String(), stderr.String())
	}
	select {
	case ev := <-got:
		var p struct {
			SessionID string `json:"session_id"`
			Event     string `json:"hook_event_name"`
			ToolName  string `json:"tool_name"`
		}
		if err := json.Unmarshal(ev.Payload, &p); err != nil {
			t.Fatalf("payload the daemon received: %v", err)
		}
		if ev.Name != "PostToolUse" || p.SessionID != "s-pipe" || p.ToolName != "Read" {
			t.Fatalf("the daemon received %s %+v", ev.Name, p)
		}
		if len(ev.Payload) > 64<<10 {
			t.Errorf("the daemon received %d bytes of payload; the bulk should have been dropped", len(ev.Payload))
		}
	case <-time.After(10 * time.Second):
		inbox, _ := os.ReadFile(filepath.Join(home, "inbox.jsonl"))
		t.Fatalf("the daemon received no event (inbox: %.200q)", inbox)
	}
}

// BenchmarkHookHugeStdin measures the whole hook process, daemon up, on
// payloads far over the frame cap: the budget is 200 ms. cpu-p50-ms is the
// hook process's own CPU time (user+system), less sensitive than the wall
// time to a loaded machine.
func BenchmarkHookHugeStdin(b *testing.B) {
	bin := buildHook(b)
	for _, mb := range []int{20, 50} {
		b.Run(strconv.Itoa(mb)+"MB", func(b *testing.B) {
			home, _ := startBenchDaemon(b)
			input := hugeStdin("s-bench", mb<<20)
			durs := make([]time.Duration, 0, b.N)
			cpus := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				cmd := exec.Command(bin, "claude")
				cmd.Env = []string{"WEAVE_AGENTD_HOME=" + home}
				stdin, err := cmd.StdinPipe()
				if err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				if err := cmd.Start(); err != nil {
					b.Fatal(err)
				}
				go func() {
					_, err := stdin.Write(input)
					if err != nil && !errors.Is(err, os.ErrClosed) && !strings.Contains(err.Error(), "broken pipe") {
						b.Error(err)
					}
					stdin.Close()
				}()
				if err := cmd.Wait(); err != nil {
					b.Fatal(err)
				}
				durs = append(durs, time.Since(start))
				cpus = append(cpus, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
			}
			b.StopTimer()
			reportPercentiles(b, durs)
			slices.Sort(cpus)
			b.ReportMetric(float64(cpus[len(cpus)/2].Microseconds())/1000, "cpu-p50-ms")
		})
	}
}

// hookAgents are the agents whose hook events the test daemons take (what
// cmd/weave-agentd passes from the registry of agents, not linked in here).
var hookAgents = map[string]string{hooks.AgentClaude: genai.AgentClaudeCode, hooks.AgentCursor: genai.AgentCursor}

// startDaemon runs a daemon on a fresh short home until the test ends.
func startDaemon(t *testing.T, builders map[string]daemon.BuilderFactory) string {
	t.Helper()
	home, err := os.MkdirTemp("", "wah-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	paths, _ := hooks.ResolvePaths(func(k string) string { return map[string]string{"WEAVE_AGENTD_HOME": home}[k] })
	cfg, _ := config.Load("")
	d, err := daemon.New(daemon.Settings{Paths: paths, Config: cfg, Builders: builders, HookAgents: hookAgents, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Shutdown(context.Background()) })
	return home
}

// manyValues is a payload of about 6 MB made of many small JSON values:
// 250,000 workspace folders, or a tool response of 800,000 numbers.
func manyValues(shape string) []byte {
	var b bytes.Buffer
	b.WriteString(`{"session_id":"s-many","transcript_path":"/nonexistent/t.jsonl","cwd":"/w","hook_event_name":"PostToolUse","tool_name":"Read",`)
	switch shape {
	case "roots":
		b.WriteString(`"workspace_roots":[`)
		for i := range 250_000 {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"/home/u/p%d/a/b/c"`, i)
		}
	default:
		b.WriteString(`"tool_response":[`)
		for i := range 800_000 {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(i))
		}
	}
	b.WriteString("]}\n")
	return b.Bytes()
}

// BenchmarkHookManyValues measures the whole hook process on a payload
// under the frame cap that is made of many small values, with the daemon
// up and down (the inbox): every pass the hook makes over such a payload
// costs tens of milliseconds of its 200 ms budget.
func BenchmarkHookManyValues(b *testing.B) {
	bin := buildHook(b)
	for _, shape := range []string{"roots", "numbers"} {
		input := manyValues(shape)
		for _, up := range []bool{true, false} {
			name := shape + "/daemon-down"
			if up {
				name = shape + "/daemon-up"
			}
			b.Run(name, func(b *testing.B) {
				home, err := os.MkdirTemp("", "wab-")
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { os.RemoveAll(home) })
				if up {
					home, _ = startBenchDaemon(b)
				}
				durs := make([]time.Duration, 0, b.N)
				cpus := make([]time.Duration, 0, b.N)
				for b.Loop() {
					cmd := exec.Command(bin, "claude")
					cmd.Env = []string{"WEAVE_AGENTD_HOME=" + home}
					cmd.Stdin = bytes.NewReader(input)
					start := time.Now()
					if err := cmd.Run(); err != nil {
						b.Fatal(err)
					}
					durs = append(durs, time.Since(start))
					cpus = append(cpus, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
				}
				reportPercentiles(b, durs)
				slices.Sort(cpus)
				b.ReportMetric(float64(cpus[len(cpus)/2].Microseconds())/1000, "cpu-p50-ms")
			})
		}
	}
}
