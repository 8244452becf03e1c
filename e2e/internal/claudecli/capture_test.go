package claudecli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// EnvUpdateTestdata, when "1", makes the scenario tests (re)write their capture
// under e2e/testdata/claude-<Version>/<scenario>/.
const EnvUpdateTestdata = "WEAVE_E2E_UPDATE_TESTDATA"

// Paths in captures are normalised so the files are stable and readable.
const (
	capturedHome = "/home/user"
)

func testdataDir(scenario string) string {
	return filepath.Join("..", "..", "testdata", "claude-"+Version, scenario)
}

// capture writes hooks, transcripts, API request summaries and claude's
// output for the scenario when WEAVE_E2E_UPDATE_TESTDATA=1.
func (e *env) capture(scenario string) {
	t := e.t
	t.Helper()
	if os.Getenv(EnvUpdateTestdata) != "1" {
		return
	}
	dir := testdataDir(scenario)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	norm := func(b []byte) []byte {
		b = bytes.ReplaceAll(b, []byte(ProjectDirName(e.o.Cwd)), []byte(ProjectDirName(capturedHome+"/project")))
		b = bytes.ReplaceAll(b, []byte(ProjectDirName(e.o.Home)), []byte(ProjectDirName(capturedHome)))
		b = bytes.ReplaceAll(b, []byte(e.o.Home), []byte(capturedHome))
		b = bytes.ReplaceAll(b, []byte(e.hook.Script), []byte("/usr/local/bin/record-hook.sh"))
		b = bytes.ReplaceAll(b, []byte(e.hook.Dir), []byte("/tmp/hook-payloads"))
		return b
	}
	write := func(rel string, b []byte) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, norm(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Hook payloads, one JSON object per line, in the order the hooks started.
	var hooks, hookEnv bytes.Buffer
	for _, ev := range e.events() {
		hooks.Write(bytes.TrimSpace(ev.Raw))
		hooks.WriteByte('\n')
		var keys []string
		for k, v := range ev.Env {
			if (strings.HasPrefix(k, "CLAUDE") || strings.HasPrefix(k, "WEAVE_AGENTD")) && k != EnvUpdateTestdata {
				keys = append(keys, k+"="+v)
			}
		}
		sort.Strings(keys)
		fmt.Fprintf(&hookEnv, "%s: %s\n", ev.Name, strings.Join(keys, " "))
	}
	write("hooks.jsonl", hooks.Bytes())
	write("hook-env.txt", hookEnv.Bytes())

	// Transcripts: the session file and everything in the session folder
	// (subagents/agent-<id>.jsonl + .meta.json, tool-results, ...).
	sessions := map[string]bool{}
	for _, r := range e.runs {
		if r.TranscriptPath == "" || sessions[r.TranscriptPath] {
			continue
		}
		sessions[r.TranscriptPath] = true
		b, err := os.ReadFile(r.TranscriptPath)
		if err != nil {
			t.Fatal(err)
		}
		write(filepath.Join("projects", ProjectDirName(capturedHome+"/project"), filepath.Base(r.TranscriptPath)), b)
		sdir := strings.TrimSuffix(r.TranscriptPath, ".jsonl")
		_ = filepath.WalkDir(sdir, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			rel, _ := filepath.Rel(filepath.Dir(sdir), p)
			b, err := os.ReadFile(p)
			if err == nil {
				write(filepath.Join("projects", ProjectDirName(capturedHome+"/project"), rel), b)
			}
			return nil
		})
	}

	// claude's --output-format json result of each run.
	for i, r := range e.runs {
		var buf bytes.Buffer
		if json.Indent(&buf, bytes.TrimSpace(r.Stdout), "", "  ") != nil {
			buf.Write(r.Stdout)
		}
		write(fmt.Sprintf("run%d-result.json", i+1), buf.Bytes())
		write(fmt.Sprintf("run%d-args.txt", i+1), []byte(strings.Join(r.Args, "\n")+"\n"))
	}

	// The API requests, summarised (bodies are ~50 KB each); the "plain"
	// scenario also keeps its first messages request in full.
	var reqs bytes.Buffer
	firstFull := false
	for _, x := range e.api.Exchanges() {
		s := map[string]any{"method": x.Method, "path": x.Path, "query": x.Query, "kind": x.Kind, "status": x.Status,
			"user_agent": x.Header.Get("User-Agent"), "anthropic_beta": x.Header.Get("Anthropic-Beta"),
			"x_claude_code_session_id": x.Header.Get("X-Claude-Code-Session-Id")}
		if x.Req != nil {
			s["model"], s["stream"], s["max_tokens"] = x.Req.Model, x.Req.Stream, x.Req.MaxTokens
			s["tools"] = x.Req.ToolNames()
			s["step"] = x.Req.Step()
			s["messages"] = len(x.Req.Messages)
			s["turn_prompt"] = truncate(x.Req.TurnPrompt(), 300)
			s["system_head"] = truncate(x.Req.SystemText(), 200)
			if rs := x.Req.ToolResults(); len(rs) > 0 {
				var tr []map[string]any
				for _, b := range rs {
					tr = append(tr, map[string]any{"tool_use_id": b.ToolUseID, "is_error": b.IsError, "content": truncate(b.ResultText(), 300)})
				}
				s["tool_results"] = tr
			}
			if !firstFull && scenario == "plain" {
				firstFull = true
				var pretty bytes.Buffer
				_ = json.Indent(&pretty, x.Body, "", "  ")
				write("api-request-first.json", pretty.Bytes())
			}
		}
		if x.Reply != nil {
			var parts []map[string]any
			for _, p := range x.Reply.Parts {
				parts = append(parts, map[string]any{"type": p.Type, "text": p.Text, "thinking": p.Thinking, "id": p.ID, "name": p.Name, "input": p.Input})
			}
			s["reply"] = map[string]any{"id": x.Reply.ID, "model": x.Reply.Model, "stop_reason": x.Reply.StopReason, "usage": x.Reply.Usage, "parts": parts, "status": x.Reply.Status}
		}
		b, _ := json.Marshal(s)
		reqs.Write(b)
		reqs.WriteByte('\n')
	}
	write("api-requests.jsonl", reqs.Bytes())
	t.Logf("captured %s", dir)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
