package main

import (
	"encoding/json"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/weave-agentd/weave-agentd/hooks"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"weave-agentd": func() { os.Exit(process()) },
		"weave-agentd-hook": func() {
			os.Exit(hooks.RunHook(os.Args[1:], os.Stdin, os.Stdout, os.Getenv))
		},
	})
}

// TestScripts runs the CLI scripts in testdata/script: each command's output
// shape, human and JSON, with the daemon down, up, and the spool empty.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			// A short home keeps the socket path within sun_path.
			home, err := os.MkdirTemp("", "wat-")
			if err != nil {
				return err
			}
			env.Defer(func() { os.RemoveAll(home) })
			env.Setenv("WEAVE_AGENTD_HOME", home)
			env.Setenv("HOME", env.WorkDir)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// hupdaemon sends SIGHUP to the daemon (its pid from status) and
			// waits until the reloaded daemon answers with a new pid-less start
			// or, with "refused", until status shows a config error.
			"hupdaemon": func(ts *testscript.TestScript, neg bool, args []string) {
				refused := len(args) == 1 && args[0] == "refused"
				paths, err := hooks.ResolvePaths(ts.Getenv)
				if err != nil {
					ts.Fatalf("%v", err)
				}
				resp, err := hooks.Call(paths.Socket, time.Second, &hooks.Request{Op: hooks.OpStatus})
				if err != nil {
					ts.Fatalf("status: %v", err)
				}
				var st struct {
					PID     int       `json:"pid"`
					Started time.Time `json:"started"`
				}
				_ = json.Unmarshal(resp.Body, &st)
				if err := syscall.Kill(st.PID, syscall.SIGHUP); err != nil {
					ts.Fatalf("kill: %v", err)
				}
				deadline := time.Now().Add(10 * time.Second)
				for time.Now().Before(deadline) {
					resp, err := hooks.Call(paths.Socket, time.Second, &hooks.Request{Op: hooks.OpStatus})
					if err == nil {
						var now struct {
							Started     time.Time       `json:"started"`
							ConfigError json.RawMessage `json:"config_error"`
						}
						_ = json.Unmarshal(resp.Body, &now)
						if refused && now.Started.After(st.Started) {
							ts.Fatalf("the daemon restarted with a config it should have refused")
						}
						if refused && now.ConfigError != nil || !refused && now.Started.After(st.Started) {
							return
						}
					}
					time.Sleep(20 * time.Millisecond)
				}
				ts.Fatalf("the daemon did not come back after SIGHUP")
			},
			// waitdaemon waits (up to 10s) until the daemon answers on the socket.
			"waitdaemon": func(ts *testscript.TestScript, neg bool, args []string) {
				paths, err := hooks.ResolvePaths(ts.Getenv)
				if err != nil {
					ts.Fatalf("%v", err)
				}
				deadline := time.Now().Add(10 * time.Second)
				for {
					_, err := hooks.Call(paths.Socket, time.Second, &hooks.Request{Op: hooks.OpStatus})
					if err == nil {
						return
					}
					if time.Now().After(deadline) {
						ts.Fatalf("daemon did not answer: %v", err)
					}
					time.Sleep(20 * time.Millisecond)
				}
			},
		},
	})
}
