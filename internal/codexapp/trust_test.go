package codexapp

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"
)

var fakeTarget = Target{Path: fakePath, Cwd: "/home/u", Command: fakeCommand}

func TestTrustRecordsOnlyOurHooksInOneEdit(t *testing.T) {
	o, log := fake(t, "ok")
	res, err := Trust(context.Background(), o, fakeTarget)
	if err != nil {
		t.Fatal(err)
	}
	if res.Trusted != 1 || len(res.Hooks) != 1 || res.Hooks[0].TrustStatus != "trusted" {
		t.Errorf("result %+v, want our one hook trusted", res)
	}
	pid, reqs := fakeLog(t, log)
	checkReaped(t, pid)
	var methods []string
	for _, r := range reqs {
		var m struct {
			Method string          `json:"method"`
			Params json.RawMessage `json:"params"`
		}
		if err := json.Unmarshal([]byte(r), &m); err != nil {
			t.Fatalf("request %q is not JSON: %v", r, err)
		}
		methods = append(methods, m.Method)
		if m.Method == "config/batchWrite" {
			want := `{"edits":[{"keyPath":"hooks.state","mergeStrategy":"upsert","value":{"` + fakeOurKey + `":{"trusted_hash":"` + fakeHash + `"}}}]}`
			if string(m.Params) != want {
				t.Errorf("batchWrite params\n %s\nwant\n %s", m.Params, want)
			}
		}
	}
	if got := strings.Join(methods, " "); got != "initialize initialized hooks/list config/batchWrite hooks/list" {
		t.Errorf("requests: %s", got)
	}

	// Already trusted: nothing is written.
	c, err := Check(context.Background(), o, fakeTarget)
	if err != nil || len(c) != 1 {
		t.Fatalf("check: %v %v", c, err)
	}
}

func TestTrustFaults(t *testing.T) {
	// hang ends at the deadline, whatever it is; the others must fail on
	// their own well before theirs.
	for _, tc := range []struct {
		mode, want string
	}{
		{"hang", "no answer in time"},
		{"garbage", `not JSON-RPC, e.g. "Welcome to Codex!"`},
		{"error", "hooks/list: error -32603: config.toml: invalid type"},
		{"exit", "its output ended before the answer (its last message: ERROR codex: boom, no config)"},
		{"huge", "reading its output: a message over the size limit"},
		{"lying", "still reports the hook " + fakeOurKey + " as untrusted"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			o, log := fake(t, tc.mode)
			deadline := time.Minute
			if tc.mode == "hang" {
				deadline = time.Second
			}
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			_, err := Trust(ctx, o, fakeTarget)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
			pid, _ := fakeLog(t, log)
			checkReaped(t, pid)
		})
	}
}

func TestTrustNoCodex(t *testing.T) {
	_, err := Trust(context.Background(), Options{Binary: t.TempDir() + "/codex"}, fakeTarget)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("error %v, want one saying the binary does not exist", err)
	}
}
