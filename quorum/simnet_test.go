package quorum_test

import (
	"errors"
	"io"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// errSilenced is what a frozen member's outgoing RPC returns once it has
// waited the RPC timeout, as a real one would.
var errSilenced = errors.New("silenced")

// simTransport is a raft.InmemTransport that can be frozen: its outgoing
// RPCs hang until they time out and its incoming ones go unanswered,
// while the member's process runs on and, if it led, still thinks it
// does until Raft's own lease check says otherwise.
type simTransport struct {
	inner   *raft.InmemTransport
	out     chan raft.RPC
	timeout time.Duration
	stop    chan struct{}
	done    chan struct{}

	mu     sync.Mutex
	frozen bool
}

func newSimTransport(addr raft.ServerAddress, timeout time.Duration) *simTransport {
	_, inner := raft.NewInmemTransportWithTimeout(addr, timeout)
	t := &simTransport{inner: inner, out: make(chan raft.RPC), timeout: timeout, stop: make(chan struct{}), done: make(chan struct{})}
	go t.forward()
	return t
}

// forward hands incoming RPCs to Raft, and drops them while frozen: the
// sender waits its timeout.
func (t *simTransport) forward() {
	defer close(t.done)
	for {
		select {
		case <-t.stop:
			return
		case rpc := <-t.inner.Consumer():
			if t.isFrozen() {
				continue
			}
			select {
			case t.out <- rpc:
			case <-t.stop:
				return
			}
		}
	}
}

func (t *simTransport) isFrozen() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.frozen
}

func (t *simTransport) setFrozen(f bool) {
	t.mu.Lock()
	t.frozen = f
	t.mu.Unlock()
}

// close stops the transport for good: a crashed member's.
func (t *simTransport) close() {
	t.inner.Close()
	close(t.stop)
	<-t.done
}

// hang is a frozen member's outgoing RPC.
func (t *simTransport) hang() error {
	time.Sleep(t.timeout)
	return errSilenced
}

func (t *simTransport) Consumer() <-chan raft.RPC          { return t.out }
func (t *simTransport) LocalAddr() raft.ServerAddress      { return t.inner.LocalAddr() }
func (t *simTransport) SetHeartbeatHandler(func(raft.RPC)) {}
func (t *simTransport) EncodePeer(id raft.ServerID, a raft.ServerAddress) []byte {
	return t.inner.EncodePeer(id, a)
}
func (t *simTransport) DecodePeer(b []byte) raft.ServerAddress { return t.inner.DecodePeer(b) }

func (t *simTransport) AppendEntriesPipeline(raft.ServerID, raft.ServerAddress) (raft.AppendPipeline, error) {
	return nil, raft.ErrPipelineReplicationNotSupported
}

func (t *simTransport) AppendEntries(id raft.ServerID, a raft.ServerAddress, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	if t.isFrozen() {
		return t.hang()
	}
	return t.inner.AppendEntries(id, a, args, resp)
}

func (t *simTransport) RequestVote(id raft.ServerID, a raft.ServerAddress, args *raft.RequestVoteRequest, resp *raft.RequestVoteResponse) error {
	if t.isFrozen() {
		return t.hang()
	}
	return t.inner.RequestVote(id, a, args, resp)
}

func (t *simTransport) RequestPreVote(id raft.ServerID, a raft.ServerAddress, args *raft.RequestPreVoteRequest, resp *raft.RequestPreVoteResponse) error {
	if t.isFrozen() {
		return t.hang()
	}
	return t.inner.RequestPreVote(id, a, args, resp)
}

func (t *simTransport) InstallSnapshot(id raft.ServerID, a raft.ServerAddress, args *raft.InstallSnapshotRequest, resp *raft.InstallSnapshotResponse, data io.Reader) error {
	if t.isFrozen() {
		return t.hang()
	}
	return t.inner.InstallSnapshot(id, a, args, resp, data)
}

func (t *simTransport) TimeoutNow(id raft.ServerID, a raft.ServerAddress, args *raft.TimeoutNowRequest, resp *raft.TimeoutNowResponse) error {
	if t.isFrozen() {
		return t.hang()
	}
	return t.inner.TimeoutNow(id, a, args, resp)
}

var (
	_ raft.Transport   = (*simTransport)(nil)
	_ raft.WithPreVote = (*simTransport)(nil)
)
