package harness

import "syscall"

// sysProcAttr makes the kernel kill an instance when the test process
// dies, so that a crashed or timed-out test leaves no sumd behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
