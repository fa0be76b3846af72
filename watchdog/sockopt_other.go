//go:build !linux

package watchdog

import (
	"net"
	"syscall"
)

func tuneTCP(syscall.RawConn) error { return nil }

func tuneConn(net.Conn) error { return nil }

func thinLinearTimeouts(net.Conn) (bool, error) { return false, nil }
