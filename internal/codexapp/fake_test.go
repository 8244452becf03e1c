package codexapp

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
)

// The test binary doubles as a fake `codex app-server` (fault injection:
// the real one is tested in real_test.go) when FAKE_CODEX_MODE is set:
//
//	ok       answers like Codex: a notification before each answer, one
//	         handler of ours and one of someone else's, trust recorded by
//	         config/batchWrite
//	hang     reads requests, never answers
//	garbage  answers the first request with a line that is not JSON, and exits
//	error    answers hooks/list with an error
//	exit     writes to stderr and exits at once
//	lying    accepts config/batchWrite but keeps reporting untrusted
//	huge     answers with a line longer than hugeLimit
//
// It appends every request line, and its pid first, to FAKE_CODEX_LOG.
func TestMain(m *testing.M) {
	if mode := os.Getenv("FAKE_CODEX_MODE"); mode != "" {
		fakeAppServer(mode)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// hugeLimit is the clients' message limit in these tests.
const hugeLimit = 64 << 10

const (
	fakePath    = "/home/u/.codex/hooks.json"
	fakeCommand = "/home/u/.local/state/weave-agentd/bin/weave-agentd-hook"
	fakeOurKey  = fakePath + ":pre_tool_use:0:0"
	fakeHash    = "sha256:1111"
)

func fakeAppServer(mode string) {
	log, _ := os.OpenFile(os.Getenv("FAKE_CODEX_LOG"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	fmt.Fprintf(log, "pid %d\n", os.Getpid())
	if mode == "exit" {
		fmt.Fprintln(os.Stderr, "\x1b[31mERROR\x1b[0m codex: boom, no config")
		os.Exit(3)
	}
	trusted := map[string]string{}
	out := bufio.NewWriter(os.Stdout)
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		fmt.Fprintln(log, sc.Text())
		var req struct {
			ID     *int64 `json:"id"`
			Method string `json:"method"`
			Params struct {
				Edits []struct {
					KeyPath string                       `json:"keyPath"`
					Value   map[string]map[string]string `json:"value"`
				} `json:"edits"`
			} `json:"params"`
		}
		if json.Unmarshal(sc.Bytes(), &req) != nil || req.ID == nil {
			continue
		}
		answer := func(v any) {
			b, _ := json.Marshal(v)
			out.Write(append(b, '\n'))
			out.Flush()
		}
		switch mode {
		case "hang":
			continue
		case "garbage":
			out.WriteString("Welcome to Codex!\n")
			out.Flush()
			os.Exit(0)
		case "huge":
			out.WriteString(`{"id":1,"result":"` + strings.Repeat("x", hugeLimit) + `"}` + "\n")
			out.Flush()
			continue
		}
		answer(map[string]any{"method": "configWarning", "params": map[string]any{"summary": "no bubblewrap"}})
		switch req.Method {
		case "initialize":
			answer(map[string]any{"id": *req.ID, "result": map[string]any{"codexHome": "/home/u/.codex"}})
		case "hooks/list":
			if mode == "error" {
				answer(map[string]any{"id": *req.ID, "error": map[string]any{"code": -32603, "message": "config.toml: invalid type"}})
				continue
			}
			status := func(key string) string {
				if trusted[key] == fakeHash {
					return "trusted"
				}
				return "untrusted"
			}
			hooks := []map[string]any{
				{"key": fakeOurKey, "eventName": "preToolUse", "command": fakeCommand, "sourcePath": fakePath,
					"source": "user", "enabled": true, "currentHash": fakeHash, "trustStatus": status(fakeOurKey)},
				{"key": fakePath + ":pre_tool_use:0:1", "eventName": "preToolUse", "command": "/usr/bin/other-hook", "sourcePath": fakePath,
					"source": "user", "enabled": true, "currentHash": "sha256:2222", "trustStatus": "untrusted"},
			}
			answer(map[string]any{"id": *req.ID, "result": map[string]any{"data": []any{
				map[string]any{"cwd": "/home/u", "hooks": hooks, "warnings": []string{}, "errors": []any{}}}}})
		case "config/batchWrite":
			if mode != "lying" {
				for _, e := range req.Params.Edits {
					for k, v := range e.Value {
						trusted[k] = v["trusted_hash"]
					}
				}
			}
			answer(map[string]any{"id": *req.ID, "result": map[string]any{"status": "ok", "version": "sha256:x"}})
		default:
			answer(map[string]any{"id": *req.ID, "error": map[string]any{"code": -32600, "message": "unknown variant"}})
		}
	}
}

// fake returns Options that run the fake in mode, and its log file.
func fake(t *testing.T, mode string) (Options, string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	log := t.TempDir() + "/requests.log"
	return Options{Binary: exe, Env: append(os.Environ(), "FAKE_CODEX_MODE="+mode, "FAKE_CODEX_LOG="+log), MaxMessage: hugeLimit}, log
}

// fakeLog returns the fake's pid and the requests it received.
func fakeLog(t *testing.T, log string) (pid int, requests []string) {
	t.Helper()
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if _, err := fmt.Sscanf(lines[0], "pid %d", &pid); err != nil {
		t.Fatalf("log %q: %v", lines[0], err)
	}
	return pid, lines[1:]
}

// checkReaped fails unless the process is gone and reaped: Close waits
// for it, so by the time a call returns kill(pid, 0) must fail.
func checkReaped(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("the fake app-server (pid %d) is still there", pid)
	}
}
