//go:build !linux

package redistopo

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }
