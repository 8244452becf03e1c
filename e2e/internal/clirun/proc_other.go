//go:build !unix

package clirun

import "os/exec"

// setGroup does nothing here (no process groups).
func setGroup(cmd *exec.Cmd) {}

// killGroup does nothing here (no process groups).
func killGroup(cmd *exec.Cmd) {}
