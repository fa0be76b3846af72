package dnstest

import "syscall"

// sysProcAttr makes the server die with the test binary, even killed.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
