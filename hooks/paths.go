package hooks

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
)

// Paths is where weave-agentd keeps its files. It depends only on HOME,
// XDG_STATE_HOME (Linux), XDG_CONFIG_HOME and WEAVE_AGENTD_HOME, so a hook
// started by a GUI app and the service compute the same socket path.
type Paths struct {
	ConfigFile string // config.toml
	StateDir   string // spool, inbox, logs, file sink
	Socket     string // Unix socket of the daemon
	Inbox      string // journal the hook appends to when the daemon is away
	Spool      string // bbolt file
	SinkDir    string // OTLP/JSON files when no endpoint is configured
	LogDir     string
}

// maxSocketPath is sizeof(sun_path) minus the terminating NUL.
func maxSocketPath() int {
	if runtime.GOOS == "linux" {
		return 107
	}
	return 103
}

// ResolvePaths computes the paths from the environment (getenv is os.Getenv
// in production, a map in tests).
func ResolvePaths(getenv func(string) string) (Paths, error) {
	var p Paths
	if h := getenv("WEAVE_AGENTD_HOME"); h != "" {
		h, err := filepath.Abs(h)
		if err != nil {
			return p, fmt.Errorf("WEAVE_AGENTD_HOME: %w", err)
		}
		p.ConfigFile = filepath.Join(h, "config.toml")
		p.StateDir = h
	} else {
		home := getenv("HOME")
		if home == "" {
			return p, errors.New("HOME is not set; set HOME or WEAVE_AGENTD_HOME")
		}
		cfg := getenv("XDG_CONFIG_HOME")
		switch {
		case runtime.GOOS == "darwin":
			cfg = filepath.Join(home, "Library", "Application Support")
		case cfg == "" || !filepath.IsAbs(cfg):
			cfg = filepath.Join(home, ".config")
		}
		p.ConfigFile = filepath.Join(cfg, "weave-agentd", "config.toml")
		if runtime.GOOS == "darwin" {
			p.StateDir = filepath.Join(home, "Library", "Application Support", "weave-agentd")
		} else if st := getenv("XDG_STATE_HOME"); st != "" && filepath.IsAbs(st) {
			p.StateDir = filepath.Join(st, "weave-agentd")
		} else {
			p.StateDir = filepath.Join(home, ".local", "state", "weave-agentd")
		}
	}
	p.Socket = filepath.Join(p.StateDir, "agentd.sock")
	if len(p.Socket) > maxSocketPath() {
		p.Socket = filepath.Join("/tmp", "weave-agentd-"+strconv.Itoa(os.Getuid()), "agentd.sock")
	}
	p.Inbox = filepath.Join(p.StateDir, "inbox.jsonl")
	p.Spool = filepath.Join(p.StateDir, "spool.db")
	p.SinkDir = filepath.Join(p.StateDir, "otlp")
	p.LogDir = filepath.Join(p.StateDir, "logs")
	return p, nil
}
