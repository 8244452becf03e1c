package installer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/weave-agentd/weave-agentd/config"
	"github.com/weave-agentd/weave-agentd/hooks/hookconfig"

	"github.com/weave-agentd/weave-agentd/internal/testkit"
)

func TestGoldenServiceFiles(t *testing.T) {
	spec := UnitSpec{
		Executable: "/home/ada/.local/state/weave-agentd/bin/weave-agentd",
		LogDir:     "/home/ada/.local/state/weave-agentd/logs",
	}
	testkit.Golden(t, filepath.Join("testdata", "weave-agentd.service.golden"), RenderSystemdUnit(spec))
	withHome := UnitSpec{Executable: "/srv/w a/bin/weave-agentd", Home: "/srv/w a", LogDir: "/srv/w a/logs"}
	testkit.Golden(t, filepath.Join("testdata", "weave-agentd-home.service.golden"), RenderSystemdUnit(withHome))
	mac := UnitSpec{
		Executable: "/Users/ada/Library/Application Support/weave-agentd/bin/weave-agentd",
		LogDir:     "/Users/ada/Library/Application Support/weave-agentd/logs",
	}
	testkit.Golden(t, filepath.Join("testdata", LaunchdLabel+".plist.golden"), RenderLaunchdPlist(mac))
	mac.Home = "/Users/ada/w&d"
	testkit.Golden(t, filepath.Join("testdata", LaunchdLabel+"-home.plist.golden"), RenderLaunchdPlist(mac))

	unit := RenderSystemdUnit(spec)
	for _, want := range []string{"Type=simple\n", "ExecStart=" + spec.Executable + " run\n", "Restart=always\n", "RestartSec=2\n", "WantedBy=default.target\n"} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q", want)
		}
	}
	for _, bad := range []string{"multi-user.target", "RestartSec=120", "/etc/sysconfig", "Environment="} {
		if strings.Contains(unit, bad) {
			t.Errorf("unit has %q", bad)
		}
	}
	if !strings.Contains(RenderSystemdUnit(withHome), `Environment="WEAVE_AGENTD_HOME=/srv/w a"`) {
		t.Error("WEAVE_AGENTD_HOME not passed to the service")
	}
}

func TestInstallSequenceAndIdempotency(t *testing.T) {
	w := newWorld(t)
	os.MkdirAll(filepath.Join(w.home, ".claude"), 0o755)
	os.MkdirAll(filepath.Join(w.home, ".cursor"), 0o755)
	in := w.installer()
	ctx := context.Background()

	if err := in.Install(ctx, Options{Endpoint: "http://localhost:4318/v1/traces"}); err != nil {
		t.Fatalf("install: %v\n%s", err, w.out)
	}
	want := []string{
		"systemctl --user show-environment",
		"loginctl show-user " + uidString() + " --property=Linger --value",
		"service install",
		"service restart",
		"claude --version",
	}
	if got := w.rec.take(); !reflect.DeepEqual(got, want) {
		t.Errorf("first install ran\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	first := snapshot(t, w.home)

	// Everything is where it should be.
	p := in.Paths()
	for _, f := range []string{in.StableExecutable(), in.StableHook(), p.ConfigFile, in.UnitPath(),
		filepath.Join(w.home, ".claude", "settings.json"), filepath.Join(w.home, ".cursor", "hooks.json")} {
		if _, err := os.Stat(f); err != nil {
			t.Error(err)
		}
	}
	if fi, _ := os.Stat(p.ConfigFile); fi.Mode().Perm() != 0o600 {
		t.Errorf("config mode %v", fi.Mode().Perm())
	}
	if b, _ := os.ReadFile(in.UnitPath()); string(b) != RenderSystemdUnit(in.UnitSpec()) {
		t.Errorf("unit file:\n%s", b)
	}
	if !strings.Contains(first[".config/systemd/user/weave-agentd.service"], "ExecStart="+in.StableExecutable()+" run") {
		t.Error("the unit does not run the stable copy")
	}

	// Second run: same files, one entry per event, the service restarted
	// (new binaries) but not reinstalled.
	w.out.Reset()
	if err := in.Install(ctx, Options{Endpoint: "http://localhost:4318/v1/traces"}); err != nil {
		t.Fatalf("second install: %v\n%s", err, w.out)
	}
	want = []string{
		"systemctl --user show-environment",
		"loginctl show-user " + uidString() + " --property=Linger --value",
		"service restart",
		"claude --version",
	}
	if got := w.rec.take(); !reflect.DeepEqual(got, want) {
		t.Errorf("second install ran\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if second := snapshot(t, w.home); !reflect.DeepEqual(first, second) {
		for k := range second {
			if first[k] != second[k] {
				t.Errorf("%s changed on the second install", k)
			}
		}
		t.Errorf("files differ after a second install")
	}
	for _, a := range []hookconfig.Agent{hookconfig.Claude, hookconfig.Cursor} {
		path, _ := hookconfig.Path(a, filepath.Join(w.home, "."+a.Name), "")
		st, err := hookconfig.Inspect(path, a, hookconfig.Spec{HookBinary: in.StableHook()})
		if err != nil || !st.Registered() || len(st.Entries) != len(st.Events) {
			t.Errorf("%s: %+v %v", a, st, err)
		}
	}
	if !strings.Contains(w.out.String(), "already registered") || !strings.Contains(w.out.String(), "unchanged") {
		t.Errorf("second run output:\n%s", w.out)
	}

	// A changed unit (here: WEAVE_AGENTD_HOME is now set) is replaced.
	w.env["WEAVE_AGENTD_HOME"] = filepath.Join(w.home, "agentd")
	in = w.installer()
	if err := in.Install(ctx, Options{}); err != nil {
		t.Fatalf("install with WEAVE_AGENTD_HOME: %v\n%s", err, w.out)
	}
	got := w.rec.take()
	if !reflect.DeepEqual(got[2:4], []string{"service uninstall", "service install"}) {
		t.Errorf("changed unit: ran %v", got)
	}
	b, _ := os.ReadFile(in.UnitPath())
	if !strings.Contains(string(b), "Environment=WEAVE_AGENTD_HOME="+w.env["WEAVE_AGENTD_HOME"]) {
		t.Errorf("unit:\n%s", b)
	}
	settings, _ := os.ReadFile(filepath.Join(w.home, ".claude", "settings.json"))
	if !strings.Contains(string(settings), "WEAVE_AGENTD_HOME="+w.env["WEAVE_AGENTD_HOME"]+" "+in.StableHook()) {
		t.Errorf("hook command does not carry WEAVE_AGENTD_HOME:\n%s", settings)
	}
}

func TestStartStopRestartUninstallSequence(t *testing.T) {
	w := newWorld(t)
	in := w.installer()
	ctx := context.Background()
	if err := in.Start(ctx); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("start before install: %v", err)
	}
	if err := in.Install(ctx, Options{}); err != nil {
		t.Fatal(err)
	}
	w.rec.take()
	steps := []struct {
		name string
		do   func(context.Context) error
		want []string
	}{
		{"stop", in.Stop, []string{"systemctl --user show-environment", "service stop"}},
		{"start", in.Start, []string{"systemctl --user show-environment", "service start"}},
		{"restart", in.Restart, []string{"systemctl --user show-environment", "service restart"}},
		{"uninstall", func(ctx context.Context) error { return in.Uninstall(ctx, false) }, []string{"systemctl --user show-environment", "service stop", "service uninstall"}},
	}
	for _, s := range steps {
		if err := s.do(ctx); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := w.rec.take(); !reflect.DeepEqual(got, s.want) {
			t.Errorf("%s ran %q, want %q", s.name, got, s.want)
		}
	}
	if fileExists(in.UnitPath()) || fileExists(in.StableHook()) {
		t.Error("uninstall left the unit or the binaries")
	}
	if !fileExists(in.Paths().ConfigFile) {
		t.Error("uninstall without --purge deleted the config")
	}
}

func TestDarwinSequence(t *testing.T) {
	w := newWorld(t)
	w.goos = "darwin"
	in := w.installer()
	ctx := context.Background()
	if err := in.Install(ctx, Options{}); err != nil {
		t.Fatalf("%v\n%s", err, w.out)
	}
	if got, want := w.rec.take(), []string{"service install", "service stop", "service start"}; !reflect.DeepEqual(got, want) {
		t.Errorf("install ran %q, want %q", got, want)
	}
	if !strings.HasSuffix(in.UnitPath(), "Library/LaunchAgents/"+LaunchdLabel+".plist") {
		t.Errorf("plist at %s", in.UnitPath())
	}
	b, _ := os.ReadFile(in.UnitPath())
	if !strings.Contains(string(b), "<key>KeepAlive</key>\n\t<true/>") || !strings.Contains(string(b), in.Paths().LogDir) {
		t.Errorf("plist:\n%s", b)
	}
	if err := in.Install(ctx, Options{}); err != nil {
		t.Fatal(err)
	}
	if got, want := w.rec.take(), []string{"service stop", "service start"}; !reflect.DeepEqual(got, want) {
		t.Errorf("second install ran %q, want %q", got, want)
	}
	if err := in.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if got := w.rec.take(); len(got) != 0 {
		t.Errorf("start while running ran %q", got)
	}
	if err := in.Uninstall(ctx, false); err != nil {
		t.Fatal(err)
	}
	if got, want := w.rec.take(), []string{"service uninstall"}; !reflect.DeepEqual(got, want) {
		t.Errorf("uninstall ran %q, want %q", got, want)
	}
}

func TestNoUserBus(t *testing.T) {
	w := newWorld(t)
	os.MkdirAll(filepath.Join(w.home, ".claude"), 0o755)
	w.runner.answers["systemctl --user show-environment"] = fakeAnswer{
		code:   1,
		stderr: "Failed to connect to bus: $DBUS_SESSION_BUS_ADDRESS and $XDG_RUNTIME_DIR not defined (consider using --machine=<user>@.host --user to connect to bus of other user)",
	}
	in := w.installer()
	err := in.Install(context.Background(), Options{Endpoint: "http://collector:4318/v1/traces"})
	var su *ServiceUnavailableError
	if !errors.As(err, &su) || !errors.Is(err, ErrServiceUnavailable) {
		t.Fatalf("err = %v, want a ServiceUnavailableError", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"no per-user service manager: systemctl --user: Failed to connect to bus",
		"weave-agentd run",
		"loginctl enable-linger $USER",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	// No service calls, but config, binaries and hooks are in place, and
	// the user is told nothing is lost.
	got := w.rec.take()
	if !reflect.DeepEqual(got, []string{"systemctl --user show-environment", "claude --version"}) {
		t.Errorf("ran %q", got)
	}
	for _, f := range []string{in.Paths().ConfigFile, in.StableExecutable(), in.StableHook(), filepath.Join(w.home, ".claude", "settings.json")} {
		if !fileExists(f) {
			t.Errorf("%s not written", f)
		}
	}
	if fileExists(in.UnitPath()) {
		t.Error("unit written without a service manager")
	}
	if !strings.Contains(w.out.String(), in.Paths().Inbox) || !strings.Contains(w.out.String(), "nothing is lost") {
		t.Errorf("output does not explain the inbox fallback:\n%s", w.out)
	}

	// systemctl missing altogether (no systemd).
	w.runner.answers["systemctl --user show-environment"] = fakeAnswer{code: -1}
	err = in.Start(context.Background())
	if !errors.Is(err, ErrNotInstalled) {
		t.Errorf("start: %v", err)
	}
}

func TestWaitTimeoutMessage(t *testing.T) {
	w := newWorld(t)
	w.up = false
	in := w.installer()
	err := in.Install(context.Background(), Options{})
	var wt *WaitTimeoutError
	if !errors.As(err, &wt) {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), "journalctl --user -u weave-agentd") || !strings.Contains(err.Error(), in.Paths().Socket) {
		t.Errorf("message: %v", err)
	}
	w = newWorld(t)
	w.up, w.goos = false, "darwin"
	in = w.installer()
	err = in.Install(context.Background(), Options{})
	if err == nil || !strings.Contains(err.Error(), filepath.Join(in.Paths().LogDir, "weave-agentd.err.log")) {
		t.Errorf("darwin: %v", err)
	}
}

func TestMissingHookBinary(t *testing.T) {
	w := newWorld(t)
	os.Remove(filepath.Join(filepath.Dir(w.exe), HookBinary))
	in := w.installer()
	err := in.Install(context.Background(), Options{Endpoint: "http://x:4318/v1/traces"})
	var mh *MissingHookBinaryError
	if !errors.As(err, &mh) || !strings.Contains(err.Error(), "go build -o") || !strings.Contains(err.Error(), "Nothing was changed") {
		t.Fatalf("err = %v", err)
	}
	if len(snapshot(t, w.home)) != 0 || len(w.rec.take()) != 0 {
		t.Error("something was written or run")
	}
}

func TestConfigWriting(t *testing.T) {
	ctx := context.Background()
	t.Run("weave key captured", func(t *testing.T) {
		w := newWorld(t)
		w.env["WANDB_API_KEY"] = "k-123"
		in := w.installer()
		if err := in.Install(ctx, Options{WeaveProject: "ada/agents", Content: "metadata", Headers: map[string]string{"x-team": "a"}}); err != nil {
			t.Fatal(err)
		}
		c, _, err := config.LoadRaw(in.Paths().ConfigFile)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(in.Paths().ConfigFile); strings.Contains(string(b), "log_level") || strings.Contains(string(b), `""`) {
			t.Errorf("unset keys written:\n%s", b)
		}
		want := config.Config{WeaveProject: "ada/agents", WeaveAPIKey: "k-123", Content: "metadata", Headers: map[string]string{"x-team": "a"}}
		if !reflect.DeepEqual(*c, want) {
			t.Errorf("config = %+v", *c)
		}
		// A later install with other flags keeps what it does not change.
		delete(w.env, "WANDB_API_KEY")
		if err := in.Install(ctx, Options{Headers: map[string]string{"x-env": "prod"}}); err != nil {
			t.Fatal(err)
		}
		c, _, _ = config.LoadRaw(in.Paths().ConfigFile)
		if c.WeaveAPIKey != "k-123" || c.Headers["x-team"] != "a" || c.Headers["x-env"] != "prod" {
			t.Errorf("config = %+v", *c)
		}
		if !fileExists(in.Paths().ConfigFile + ".bak") {
			t.Error("previous config not kept")
		}
	})
	t.Run("weave without key", func(t *testing.T) {
		w := newWorld(t)
		in := w.installer()
		err := in.Install(ctx, Options{WeaveProject: "ada/agents"})
		if err == nil || !strings.Contains(err.Error(), "WANDB_API_KEY") || !strings.Contains(err.Error(), "nothing was changed") {
			t.Fatalf("err = %v", err)
		}
		if len(snapshot(t, w.home)) != 0 {
			t.Error("files written")
		}
	})
	t.Run("netrc key is enough", func(t *testing.T) {
		w := newWorld(t)
		os.WriteFile(filepath.Join(w.home, ".netrc"), []byte("machine api.wandb.ai\n  login user\n  password n-456\n"), 0o600)
		in := w.installer()
		if err := in.Install(ctx, Options{WeaveProject: "ada/agents"}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("OTEL variables captured", func(t *testing.T) {
		w := newWorld(t)
		w.env["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://tempo:4318"
		w.env["OTEL_EXPORTER_OTLP_HEADERS"] = "authorization=Bearer%20x"
		w.env["OTEL_EXPORTER_OTLP_COMPRESSION"] = "none"
		in := w.installer()
		if err := in.Install(ctx, Options{}); err != nil {
			t.Fatal(err)
		}
		c, _, _ := config.LoadRaw(in.Paths().ConfigFile)
		if c.Endpoint != "http://tempo:4318/v1/traces" || c.Headers["authorization"] != "Bearer x" || c.Compression != "none" {
			t.Errorf("config = %+v", *c)
		}
	})
	t.Run("bad flags and bad files refused", func(t *testing.T) {
		w := newWorld(t)
		in := w.installer()
		if err := in.Install(ctx, Options{Content: "everything"}); err == nil {
			t.Error("content=everything accepted")
		}
		if err := in.Install(ctx, Options{Endpoint: "localhost:4318"}); err == nil {
			t.Error("endpoint without scheme accepted")
		}
		os.MkdirAll(filepath.Dir(in.Paths().ConfigFile), 0o700)
		os.WriteFile(in.Paths().ConfigFile, []byte("endpont = \"http://x\"\n"), 0o600)
		err := in.Install(ctx, Options{})
		if err == nil || !strings.Contains(err.Error(), "endpont") {
			t.Errorf("unknown key: %v", err)
		}
		if b, _ := os.ReadFile(in.Paths().ConfigFile); string(b) != "endpont = \"http://x\"\n" {
			t.Error("a bad config was overwritten")
		}
	})
}

func TestUninstallPurgeAndProjects(t *testing.T) {
	w := newWorld(t)
	claudeDir := filepath.Join(w.home, ".claude")
	os.MkdirAll(claudeDir, 0o755)
	user := `{"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "notify-send done"}]}]}, "model": "opus"}`
	os.WriteFile(filepath.Join(claudeDir, "settings.json"), []byte(user), 0o644)
	in := w.installer()
	ctx := context.Background()
	if err := in.Install(ctx, Options{Agents: []string{"claude"}}); err != nil {
		t.Fatal(err)
	}
	proj := t.TempDir()
	if err := in.HooksInstall(ctx, HookOptions{Agents: []string{"cursor"}, Project: proj}); err != nil {
		t.Fatal(err)
	}
	if !fileExists(filepath.Join(proj, ".cursor", "hooks.json")) {
		t.Fatal("project hooks not written")
	}
	os.WriteFile(in.Paths().Spool, []byte("spool"), 0o600)
	if err := in.Uninstall(ctx, true); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{in.Paths().StateDir, in.Paths().ConfigFile, in.UnitPath()} {
		if fileExists(f) {
			t.Errorf("%s survived --purge", f)
		}
	}
	b, _ := os.ReadFile(filepath.Join(claudeDir, "settings.json"))
	if strings.Contains(string(b), HookBinary) || !strings.Contains(string(b), "notify-send done") || !strings.Contains(string(b), `"model": "opus"`) {
		t.Errorf("settings after uninstall:\n%s", b)
	}
	pb, _ := os.ReadFile(filepath.Join(proj, ".cursor", "hooks.json"))
	if strings.Contains(string(pb), HookBinary) {
		t.Errorf("project hooks left: %s", pb)
	}
}

func TestHooksCommandsAndOldClaude(t *testing.T) {
	w := newWorld(t)
	os.MkdirAll(filepath.Join(w.home, ".claude"), 0o755)
	w.runner.answers["claude --version"] = fakeAnswer{stdout: "1.0.70 (Claude Code)\n"}
	in := w.installer()
	ctx := context.Background()
	// Not installed yet: the hook beside the running binary is used.
	if err := in.HooksInstall(ctx, HookOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(w.out.String(), "is not installed yet") || !strings.Contains(w.out.String(), "Claude Code 1.0.70: registering only the 8 events") {
		t.Errorf("output:\n%s", w.out)
	}
	sts, err := in.HooksStatus(ctx, HookOptions{Agents: []string{"claude"}})
	if err != nil || len(sts) != 1 || !sts[0].Registered() {
		t.Fatalf("status %+v", sts)
	}
	for _, e := range sts[0].Events {
		if e == "SubagentStart" || e == "StopFailure" || e == "PostToolUseFailure" {
			t.Errorf("1.0.70 got %s", e)
		}
	}
	if !strings.Contains(sts[0].Line(), "registered, 8 event(s)") {
		t.Errorf("line: %s", sts[0].Line())
	}
	// Hooks for Cursor when Cursor is not there: an explicit flag still works.
	if err := in.HooksInstall(ctx, HookOptions{Agents: []string{"cursor"}}); err != nil {
		t.Fatal(err)
	}
	if err := in.HooksUninstall(ctx, HookOptions{}); err != nil {
		t.Fatal(err)
	}
	sts, err = in.HooksStatus(ctx, HookOptions{})
	if err != nil || len(sts) != len(HookAgents()) {
		t.Fatalf("status of every agent: %+v, %v", sts, err)
	}
	for _, s := range sts {
		if len(s.Entries) != 0 {
			t.Errorf("%s still registered", s.Agent)
		}
	}
	// An agent without hooks, or none of that name: refused, nothing written.
	for _, name := range []string{"vim", ""} {
		if err := in.HooksInstall(ctx, HookOptions{Agents: []string{name}}); err == nil || !strings.Contains(err.Error(), "pass "+hookFlags()) {
			t.Errorf("hooks install for agent %q: %v", name, err)
		}
		if _, err := in.HooksStatus(ctx, HookOptions{Agents: []string{name}}); err == nil {
			t.Errorf("hooks status for agent %q succeeded", name)
		}
	}
	// No agent at all.
	w2 := newWorld(t)
	if err := w2.installer().HooksInstall(ctx, HookOptions{}); err == nil {
		t.Error("hooks install without any agent succeeded")
	}
}

func TestInstallThroughSudoRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only meaningful as root")
	}
	w := newWorld(t)
	w.env["SUDO_USER"] = "ada"
	err := w.installer().Install(context.Background(), Options{})
	if err == nil || !strings.Contains(err.Error(), "without sudo") {
		t.Fatalf("err = %v", err)
	}
	if len(snapshot(t, w.home)) != 0 {
		t.Error("files written")
	}
}
