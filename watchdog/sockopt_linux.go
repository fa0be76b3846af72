package watchdog

import (
	"net"
	"syscall"
)

// tcpThinLinearTimeouts is TCP_THIN_LINEAR_TIMEOUTS from linux/tcp.h.
const tcpThinLinearTimeouts = 16

// tuneTCP makes a lost segment of the link cost one retransmission timeout
// (200 ms, the kernel's minimum) instead of a doubling series: the link
// carries a few small frames at a time, a "thin stream", and with linear
// timeouts random loss no longer looks like the silence of a dead peer
// (without them, four losses of one segment stall the stream for 3 s:
// 0.2 + 0.4 + 0.8 + 1.6). Best effort: an error leaves the default.
func tuneTCP(c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, tcpThinLinearTimeouts, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

// tuneConn applies tuneTCP to an accepted or dialled TCP connection.
func tuneConn(c net.Conn) error {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return err
	}
	return tuneTCP(rc)
}

// thinLinearTimeouts reports whether the option is set on c (for tests).
func thinLinearTimeouts(c net.Conn) (bool, error) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return false, nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return false, err
	}
	var v int
	var gerr error
	if err := rc.Control(func(fd uintptr) {
		v, gerr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, tcpThinLinearTimeouts)
	}); err != nil {
		return false, err
	}
	return v == 1, gerr
}
