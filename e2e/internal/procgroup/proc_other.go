//go:build !unix

package procgroup

import "os/exec"

// Set does nothing here (no process groups).
func Set(cmd *exec.Cmd) {}

// Kill does nothing here (no process groups).
func Kill(cmd *exec.Cmd) {}
