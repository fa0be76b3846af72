//go:build !linux

package dnstest

import "syscall"

// sysProcAttr: elsewhere, a server outlives a killed test binary.
func sysProcAttr() *syscall.SysProcAttr { return nil }
