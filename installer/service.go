package installer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kardianos/service"

	"github.com/weave-agentd/weave-agentd/hooks"
)

// StatusProber tells whether the daemon answers.
type StatusProber interface {
	Probe(ctx context.Context) error
}

// ProbeFunc adapts a function to StatusProber.
type ProbeFunc func(ctx context.Context) error

// Probe implements StatusProber.
func (f ProbeFunc) Probe(ctx context.Context) error { return f(ctx) }

// SocketProber treats a successful connect to the daemon's Unix socket as
// "the daemon answers". (The real status client can replace it.) A socket
// another user could control is not connected to: the error is then a
// *hooks.UntrustedError.
func SocketProber(path string) StatusProber {
	return ProbeFunc(func(ctx context.Context) error {
		if err := hooks.CheckSocket(path); err != nil {
			return err
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, "unix", path)
		if err != nil {
			return err
		}
		return c.Close()
	})
}

// ServiceUnavailableError: there is no per-user service manager to install
// into (no user D-Bus / XDG_RUNTIME_DIR, e.g. over su or ssh without a login
// session, in containers, or on a headless box without lingering; on macOS
// no GUI login session).
type ServiceUnavailableError struct {
	GOOS   string
	Reason string
}

// ErrServiceUnavailable matches a *ServiceUnavailableError with errors.Is.
var ErrServiceUnavailable = errors.New("no per-user service manager")

func (e *ServiceUnavailableError) Is(target error) bool { return target == ErrServiceUnavailable }

func (e *ServiceUnavailableError) Error() string {
	if e.GOOS == "darwin" {
		return fmt.Sprintf(`no per-user service manager: %s
A LaunchAgent needs a logged-in desktop session (not only ssh).
  - Run the daemon in a terminal instead, and keep it open (e.g. in tmux):  weave-agentd run
  - Or log in to the Mac's desktop and run 'weave-agentd install' again.`, e.Reason)
	}
	return fmt.Sprintf(`no per-user service manager: %s
systemd's user manager is not reachable from here: this happens over su/sudo or ssh without a
login session, in containers, and on headless machines where lingering is off.
  - Run the daemon in a terminal instead, and keep it open (e.g. in tmux):  weave-agentd run
  - Or keep your user manager running, log out and in again, then re-run install:
        loginctl enable-linger $USER      (if refused: sudo loginctl enable-linger $USER)
        weave-agentd install`, e.Reason)
}

// WaitTimeoutError: the service started but the daemon never answered.
type WaitTimeoutError struct {
	Timeout time.Duration
	Socket  string
	Hint    string
}

func (e *WaitTimeoutError) Error() string {
	return fmt.Sprintf("the service was started but the daemon did not answer on %s within %s.\n%s", e.Socket, e.Timeout, e.Hint)
}

// logHint says where the daemon's complaints are.
func (in *Installer) logHint() string {
	if in.s.GOOS == "darwin" {
		return fmt.Sprintf("See what it says: %s   (and launchctl list %s)", in.logCommand(), LaunchdLabel)
	}
	return "See what it says: " + in.logCommand() + "   (and systemctl --user status " + ServiceName + ")"
}

// logCommand shows the daemon's recent log.
func (in *Installer) logCommand() string {
	if in.s.GOOS == "darwin" {
		return "tail -n 50 '" + filepath.Join(in.paths.LogDir, "weave-agentd.err.log") + "'"
	}
	return "journalctl --user -u " + ServiceName + " -n 50"
}

// UnitPath is where the service file lives.
func (in *Installer) UnitPath() string {
	if in.s.GOOS == "darwin" {
		return filepath.Join(in.s.Home, "Library", "LaunchAgents", LaunchdLabel+".plist")
	}
	return filepath.Join(in.s.Home, ".config", "systemd", "user", ServiceName+".service")
}

// UnitSpec is what this install renders its service file from.
func (in *Installer) UnitSpec() UnitSpec {
	return UnitSpec{Executable: in.StableExecutable(), Home: in.agentdHome(), LogDir: in.paths.LogDir}
}

// UnitContent is the service file this install writes.
func (in *Installer) UnitContent() string {
	if in.s.GOOS == "darwin" {
		return RenderLaunchdPlist(in.UnitSpec())
	}
	return RenderSystemdUnit(in.UnitSpec())
}

func (in *Installer) service() (service.Service, error) {
	if err := templateSafe(in.UnitContent()); err != nil {
		return nil, err
	}
	if in.defaultService {
		// kardianos/service writes the unit under the process's own HOME
		// (and macOS's user record): refuse to act on a different home.
		if h, err := os.UserHomeDir(); err != nil || filepath.Clean(h) != filepath.Clean(in.s.Home) {
			return nil, fmt.Errorf("the service would be installed for HOME=%s, not %s; run install as the user it is for", h, in.s.Home)
		}
	}
	name := ServiceName
	if in.s.GOOS == "darwin" {
		name = LaunchdLabel
	}
	spec := in.UnitSpec()
	return in.s.NewService(&service.Config{
		Name:        name,
		DisplayName: "weave-agentd",
		Description: serviceDescription,
		Executable:  spec.Executable,
		Arguments:   []string{"run"},
		Option: service.KeyValue{
			"UserService":   true,
			"SystemdScript": RenderSystemdUnit(spec),
			"LaunchdConfig": RenderLaunchdPlist(spec),
			"RunAtLoad":     true,
			"KeepAlive":     true,
		},
	})
}

type noProgram struct{}

func (noProgram) Start(service.Service) error { return nil }
func (noProgram) Stop(service.Service) error  { return nil }

// alwaysDetected makes kardianos/service use a system it did not detect at
// start-up: we need systemd's *user* manager, which is there (we asked it)
// even where PID 1 is not systemd (containers, WSL).
type alwaysDetected struct{ service.System }

func (alwaysDetected) Detect() bool { return true }

var chooseOnce sync.Once

// NewKardianosService builds the service with kardianos/service, using its
// systemd (Linux) or launchd (macOS) backend whatever it detected.
func NewKardianosService(c *service.Config) (service.Service, error) {
	want := map[string]string{"linux": "linux-systemd", "darwin": "darwin-launchd"}[runtime.GOOS]
	if want == "" {
		return nil, fmt.Errorf("installing a service is not supported on %s yet; run 'weave-agentd run' instead", runtime.GOOS)
	}
	chooseOnce.Do(func() {
		if s := service.ChosenSystem(); s != nil && s.String() == want {
			return
		}
		for _, s := range service.AvailableSystems() {
			if s.String() == want {
				service.ChooseSystem(alwaysDetected{s})
				return
			}
		}
	})
	if s := service.ChosenSystem(); s == nil || s.String() != want {
		return nil, fmt.Errorf("kardianos/service has no %s backend", want)
	}
	return service.New(noProgram{}, c)
}

// checkUserManager fails with a *ServiceUnavailableError when systemd's user
// manager cannot be reached, and warns when lingering is off.
func (in *Installer) checkUserManager(ctx context.Context, warnLinger bool) error {
	if in.s.GOOS != "linux" {
		return nil
	}
	_, err := in.run(ctx, "systemctl", "--user", "show-environment")
	if err != nil {
		reason := err.Error()
		var re *RunError
		if errors.As(err, &re) {
			switch {
			case re.NotFound():
				reason = "systemctl was not found (this system does not run systemd)"
			case re.Stderr != "":
				reason = "systemctl --user: " + firstLine(re.Stderr)
			}
		}
		return &ServiceUnavailableError{GOOS: in.s.GOOS, Reason: reason}
	}
	if warnLinger {
		if out, err := in.run(ctx, "loginctl", "show-user", strconv.Itoa(os.Getuid()), "--property=Linger", "--value"); err == nil && strings.TrimSpace(string(out)) == "no" {
			in.printf("note     lingering is off: the service stops when your last session ends. To keep it running\n         while you are logged out (servers, remote boxes): loginctl enable-linger $USER")
		}
	}
	return nil
}

// installService installs or updates the service, (re)starts it and waits
// until the daemon answers.
func (in *Installer) installService(ctx context.Context) error {
	if err := in.checkUserManager(ctx, true); err != nil {
		return err
	}
	if err := os.MkdirAll(in.paths.LogDir, 0o700); err != nil {
		return err
	}
	svc, err := in.service()
	if err != nil {
		return err
	}
	path := in.UnitPath()
	want := in.UnitContent()
	cur, readErr := os.ReadFile(path)
	switch {
	case readErr == nil && bytes.Equal(cur, []byte(want)):
		in.printf("service  %s unchanged", path)
	case readErr == nil:
		// kardianos refuses to install over an existing file.
		if err := svc.Uninstall(); err != nil && fileExists(path) {
			return fmt.Errorf("update service: %w", err)
		}
		fallthrough
	default:
		if err := svc.Install(); err != nil {
			return in.serviceError("install the service", err)
		}
		in.printf("service  %s", path)
	}
	if in.s.GOOS == "darwin" {
		svc.Stop() // not loaded yet is fine
		err = svc.Start()
	} else {
		err = svc.Restart() // starts it when stopped; picks up new binaries when running
	}
	if err != nil {
		return in.serviceError("start the service", err)
	}
	return in.waitForDaemon(ctx)
}

// serviceError turns a launchd "no GUI session" failure into the same clear
// message as a missing systemd user manager.
func (in *Installer) serviceError(what string, err error) error {
	msg := err.Error()
	if in.s.GOOS == "darwin" && (strings.Contains(msg, "Could not find domain") || strings.Contains(msg, "Input/output error") || strings.Contains(msg, "Bootstrap failed")) {
		return &ServiceUnavailableError{GOOS: in.s.GOOS, Reason: firstLine(msg)}
	}
	if in.s.GOOS == "linux" && strings.Contains(msg, "Failed to connect to bus") {
		return &ServiceUnavailableError{GOOS: in.s.GOOS, Reason: firstLine(msg)}
	}
	return fmt.Errorf("%s: %w\n%s", what, err, in.logHint())
}

func (in *Installer) waitForDaemon(ctx context.Context) error {
	in.printf("waiting  for the daemon to answer on %s ...", in.paths.Socket)
	deadline := time.Now().Add(in.s.StartTimeout)
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		err := in.s.Prober.Probe(pctx)
		cancel()
		if err == nil {
			in.printf("running  the daemon answers")
			return nil
		}
		if ue, ok := errors.AsType[*hooks.UntrustedError](err); ok {
			return fmt.Errorf("%w\nhint: %s", err, ue.Hint()) // waiting will not make it ours
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return &WaitTimeoutError{Timeout: in.s.StartTimeout, Socket: in.paths.Socket, Hint: in.logHint()}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (in *Installer) uninstallService(ctx context.Context) error {
	path := in.UnitPath()
	if !fileExists(path) {
		in.printf("service  not installed")
		return nil
	}
	if err := in.checkUserManager(ctx, false); err != nil {
		// Nothing can be running under a manager we cannot reach: just
		// remove the file.
		if rmErr := os.Remove(path); rmErr != nil {
			return rmErr
		}
		in.printf("removed  %s (the user service manager is not reachable; nothing was running under it)", path)
		return nil
	}
	svc, err := in.service()
	if err != nil {
		return err
	}
	if in.s.GOOS != "darwin" {
		svc.Stop() // already stopped is fine; launchd's Uninstall unloads itself
	}
	if err := svc.Uninstall(); err != nil && fileExists(path) {
		return fmt.Errorf("remove the service: %w", err)
	}
	in.printf("removed  %s (service stopped)", path)
	return nil
}

// ErrNotInstalled: the service file is not there.
var ErrNotInstalled = errors.New("the weave-agentd service is not installed: run 'weave-agentd install' (or 'weave-agentd run' in a terminal)")

func (in *Installer) control(ctx context.Context) (service.Service, error) {
	if !fileExists(in.UnitPath()) {
		return nil, ErrNotInstalled
	}
	if err := in.checkUserManager(ctx, false); err != nil {
		return nil, err
	}
	return in.service()
}

// Start starts the service and waits until the daemon answers.
func (in *Installer) Start(ctx context.Context) error {
	svc, err := in.control(ctx)
	if err != nil {
		return err
	}
	if in.s.GOOS == "darwin" {
		if st, err := svc.Status(); err == nil && st == service.StatusRunning {
			in.printf("already running")
			return nil
		}
	}
	if err := svc.Start(); err != nil {
		return in.serviceError("start the service", err)
	}
	return in.waitForDaemon(ctx)
}

// Stop stops the service (it starts again at the next login, or with Start).
func (in *Installer) Stop(ctx context.Context) error {
	svc, err := in.control(ctx)
	if err != nil {
		return err
	}
	if err := svc.Stop(); err != nil {
		return in.serviceError("stop the service", err)
	}
	in.printf("stopped  (hooks keep events in %s until it runs again)", in.paths.Inbox)
	return nil
}

// Restart restarts the service (new binaries, new config) and waits until
// the daemon answers.
func (in *Installer) Restart(ctx context.Context) error {
	svc, err := in.control(ctx)
	if err != nil {
		return err
	}
	if in.s.GOOS == "darwin" {
		svc.Stop()
		err = svc.Start()
	} else {
		err = svc.Restart()
	}
	if err != nil {
		return in.serviceError("restart the service", err)
	}
	return in.waitForDaemon(ctx)
}
