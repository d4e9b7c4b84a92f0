package loadgen

import (
	"os/exec"
	"syscall"
)

// setDeathSignal makes the kernel send the engine SIGTERM if gollm dies
// first, so that no server outlives its harness.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
