package mail

import (
	"context"
	"net"
)

// SetDial makes s connect with dial instead of a net.Dialer.
func SetDial(s *Sender, dial func(ctx context.Context, network, addr string) (net.Conn, error)) {
	s.dial = dial
}
