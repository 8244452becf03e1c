//go:build unix

package clirun

import (
	"os/exec"
	"syscall"
)

// setGroup puts cmd in its own process group, so that cancelling its context
// also ends the tools and hooks it started.
func setGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

// killGroup ends whatever cmd left running in its group (only processes this
// run started: the group id is cmd's own pid).
func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
