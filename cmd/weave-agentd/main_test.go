package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
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
			env.Values[spyKey{}] = &spy{}
			return nil
		},
		Condition: func(cond string) (bool, error) {
			if cond == "root" {
				return os.Getuid() == 0, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
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
			// plantsocket listens where the daemon's socket goes, as a socket
			// another user could have planted: "other-owner" gives it to uid
			// 65534 (needs root), "open-folder" makes its folder writable by
			// all.
			"plantsocket": plantSocket,
			// spynothing asserts that no client connected to the planted
			// socket.
			"spynothing": spyNothing,
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

type spyKey struct{}

// spy is the listener plantsocket planted and what it received, in order.
type spy struct {
	ln  net.Listener
	got chan string
}

func plantSocket(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: plantsocket other-owner|open-folder")
	}
	paths, err := hooks.ResolvePaths(ts.Getenv)
	if err != nil {
		ts.Fatalf("%v", err)
	}
	ln, err := net.Listen("unix", paths.Socket)
	if err != nil {
		ts.Fatalf("%v", err)
	}
	s := ts.Value(spyKey{}).(*spy)
	s.ln, s.got = ln, make(chan string, 16)
	ts.Defer(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			s.got <- line
		}
	}()
	switch args[0] {
	case "other-owner":
		ts.Check(os.Lchown(paths.Socket, 65534, 65534))
	case "open-folder":
		ts.Check(os.Chmod(filepath.Dir(paths.Socket), 0o777))
	default:
		ts.Fatalf("plantsocket: unknown %q", args[0])
	}
}

func spyNothing(ts *testscript.TestScript, neg bool, _ []string) {
	s := ts.Value(spyKey{}).(*spy)
	c, err := net.Dial("unix", s.ln.Addr().String())
	ts.Check(err)
	c.Write([]byte("sentinel\n"))
	c.Close()
	select {
	case line := <-s.got:
		if line != "sentinel\n" {
			ts.Fatalf("the planted socket received %d bytes: %.80q", len(line), line)
		}
	case <-time.After(5 * time.Second):
		ts.Fatalf("the planted socket accepted nothing, not even the sentinel")
	}
}
