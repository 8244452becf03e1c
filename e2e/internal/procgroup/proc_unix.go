//go:build unix

package procgroup

import (
	"os/exec"
	"syscall"
)

// Set puts cmd in its own process group, so that cancelling its context
// also ends the tools and hooks it started.
func Set(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

// Kill ends whatever cmd left running in its group (only processes this
// run started: the group id is cmd's own pid).
func Kill(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
