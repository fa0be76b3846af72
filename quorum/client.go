package quorum

// This file is the control protocol's dialling side alone, for a command
// run by an operator on a member's host: it listens on nothing and runs no
// Raft.
//
// Concurrency: a Client is safe for concurrent use; it starts no goroutine
// and keeps no connection between calls.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/clooster/clooster/watchdog"
)

// ClientConfig is what a Client needs: the configuration of the member
// whose host it runs on.
type ClientConfig struct {
	// Self is the member whose host the command runs on; Members lists
	// every member, Self included.
	Self    string
	Members []Member
	// Key is the shared key of the handshake.
	Key []byte
	// TLS is the dialling side's TLS configuration, as watchdog.ClientTLS
	// makes it; the client clones it, sets its ALPN protocol and, without
	// a ServerName, names the host of the member it dials.
	TLS *tls.Config
	// Dial, if set, opens the TCP connections.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
}

// OperatorName is the name an operator's command gives in the handshake: a
// member's daemon takes it on the control protocol only, never for Raft,
// and logs the command as the operator's, not as a member's. No member may
// be called so (config refuses it).
const OperatorName = "clooster-operator"

// Client asks members over the control protocol, as OperatorName: the
// handshake proves the key, which every member and its operator share.
type Client struct {
	members []Member
	key     []byte
	tls     *tls.Config
	dial    func(ctx context.Context, network, address string) (net.Conn, error)
}

// NewClient checks cfg and returns its client.
func NewClient(cfg ClientConfig) (*Client, error) {
	if _, err := checkMembers(cfg.Self, cfg.Members); err != nil {
		return nil, err
	}
	switch {
	case len(cfg.Members) < 2:
		return nil, errors.New("client: no other member")
	case len(cfg.Key) == 0:
		return nil, errors.New("client: no key")
	case cfg.TLS == nil:
		return nil, errors.New("client: no tls configuration")
	}
	c := &Client{members: slices.Clone(cfg.Members), key: cfg.Key, dial: cfg.Dial}
	c.tls = cfg.TLS.Clone()
	c.tls.MinVersion = tls.VersionTLS13
	c.tls.NextProtos = []string{ALPNCtl}
	if c.dial == nil {
		var d net.Dialer
		c.dial = d.DialContext
	}
	return c, nil
}

// Status asks member m what it says of itself.
func (c *Client) Status(ctx context.Context, m Member) (MemberStatus, error) {
	return asker(c.request).status(ctx, m)
}

// AddVoter asks leader to add the member name at address as a voter; the
// error wraps ErrNotLeader if leader does not lead.
func (c *Client) AddVoter(ctx context.Context, leader Member, name, address string) error {
	return asker(c.request).addVoter(ctx, leader, name, address)
}

// RemoveServer asks leader to remove the member name; the error wraps
// ErrNotLeader if leader does not lead.
func (c *Client) RemoveServer(ctx context.Context, leader Member, name string) error {
	return asker(c.request).removeServer(ctx, leader, name)
}

// as is the name the client gives to m.
func (c *Client) as(Member) string { return OperatorName }

// request dials m, sends one request and reads its answer, all within ctx
// (or ctlTimeout without a deadline); an ERROR answer is returned as an
// error.
func (c *Client) request(ctx context.Context, m Member, typ ctlType, payload []byte) (ctlType, []byte, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, ctlTimeout)
		defer cancel()
	}
	raw, err := c.dial(ctx, "tcp", m.Address)
	if err != nil {
		return 0, nil, fmt.Errorf("dial %s: %w", m.Name, err)
	}
	defer raw.Close()
	deadline, _ := ctx.Deadline()
	raw.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { raw.SetDeadline(time.Now()) })
	defer stop()

	cfg := c.tls.Clone()
	if cfg.ServerName == "" {
		cfg.ServerName, _, _ = net.SplitHostPort(m.Address)
	}
	tc := tls.Client(raw, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return 0, nil, fmt.Errorf("dial %s: tls handshake: %w", m.Name, err)
	}
	if got := tc.ConnectionState().NegotiatedProtocol; got != ALPNCtl {
		return 0, nil, fmt.Errorf("dial %s: alpn: got %q, want %q", m.Name, got, ALPNCtl)
	}
	if err := watchdog.NewStreamAuth(c.key, c.as(m), nil).Client(tc, m.Name); err != nil {
		return 0, nil, fmt.Errorf("dial %s: %w", m.Name, err)
	}
	return exchange(ctx, tc, m, typ, payload)
}
