package quorum_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/clooster/clooster/internal/failover"
	"github.com/clooster/clooster/quorum"
)

// landed is one write as the fake provider applied it (or refused it).
type landed struct {
	Writer  string
	Term    uint64 // the term the writer decided in (quorum.WriteTerm)
	Sent    time.Time
	At      time.Time // when it reached the provider
	Content string
	Changed bool // it changed the record's content
	Refused bool // the fence or the compare refused it
}

// fakeDNS is one record at a provider: each call reaches it after an
// uplink delay and is answered after a downlink delay; a call whose caller
// gave up meanwhile still lands (a request on the wire is not taken
// back). The API can fail for a while (an error, or a 429 with a
// Retry-After) and be slow (delays beyond the API timeout). A fencing
// record has a fence, as the RFC 2136 store keeps it in a TXT record.
type fakeDNS struct {
	kind storeKind

	mu      sync.Mutex
	rng     *rand.Rand
	content string
	fence   uint64
	writes  []landed
	failing int // > 0: calls fail
	slow    int // > 0: calls are slow
}

// storeKind is what a provider can do.
type storeKind int

const (
	kindFenced storeKind = iota // RFC 2136: compare and swap, and the fence
	kindPlain                   // Cloudflare: neither
	kindSwap                    // compare and swap, no fence
)

// client is member node's client of d.
func (d *fakeDNS) client(node string) failover.RecordStore {
	p := plainRecord{d: d, node: node}
	switch d.kind {
	case kindFenced:
		return &fencedRecord{swapRecord{p}}
	case kindSwap:
		return &swapRecord{p}
	}
	return &p
}

var errAPI = errors.New("api: 502 bad gateway")

// edit is an operator's change of the record, at once.
func (d *fakeDNS) edit(content string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.content = content
}

func (d *fakeDNS) snapshot() (content string, writes []landed) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.content, append([]landed(nil), d.writes...)
}

func (d *fakeDNS) adjust(failing, slow int) {
	d.mu.Lock()
	d.failing += failing
	d.slow += slow
	d.mu.Unlock()
}

// do runs op at the provider: op runs under d.mu when the call lands, and
// what it returns is the answer.
func (d *fakeDNS) do(ctx context.Context, op func() (string, error)) (string, error) {
	d.mu.Lock()
	up := time.Duration(5+d.rng.IntN(200)) * time.Millisecond
	down := time.Duration(5+d.rng.IntN(200)) * time.Millisecond
	if d.slow > 0 && d.rng.IntN(2) == 0 {
		up += time.Duration(d.rng.IntN(12000)) * time.Millisecond
		down += time.Duration(d.rng.IntN(6000)) * time.Millisecond
	}
	var fail error
	if d.failing > 0 && d.rng.IntN(4) != 0 {
		fail = errAPI
		if d.rng.IntN(3) == 0 {
			fail = &failover.RetryLater{After: time.Duration(1+d.rng.IntN(10)) * time.Second, Err: errors.New("api: 429 too many requests")}
		}
	}
	d.mu.Unlock()
	if fail != nil {
		t := time.NewTimer(up + down)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-t.C:
			return "", fail
		}
	}
	type answer struct {
		content string
		err     error
	}
	res := make(chan answer, 1)
	time.AfterFunc(up, func() {
		d.mu.Lock()
		c, err := op()
		d.mu.Unlock()
		time.AfterFunc(down, func() { res <- answer{c, err} })
	})
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case a := <-res:
		return a.content, a.err
	}
}

// write lands content by writer, if cond allows it (under d.mu).
func (d *fakeDNS) write(ctx context.Context, writer, content string, cond func() error) error {
	term, _ := quorum.WriteTerm(ctx)
	sent := time.Now()
	_, err := d.do(ctx, func() (string, error) {
		l := landed{Writer: writer, Term: term, Sent: sent, At: time.Now(), Content: content}
		err := cond()
		if err != nil {
			l.Refused = true
		} else {
			l.Changed = d.content != content
			d.content = content
		}
		d.writes = append(d.writes, l)
		return "", err
	})
	return err
}

// plainRecord is one member's client of a provider that cannot compare
// nor fence (Cloudflare).
type plainRecord struct {
	d    *fakeDNS
	node string
}

func (p *plainRecord) Read(ctx context.Context) (failover.Record, error) {
	c, err := p.d.do(ctx, func() (string, error) { return p.d.content, nil })
	return failover.Record{Content: c}, err
}

func (p *plainRecord) Write(ctx context.Context, content string) error {
	return p.d.write(ctx, p.node, content, func() error { return nil })
}

// swapRecord is one member's client of a provider that compares and
// swaps, without a fence.
type swapRecord struct{ plainRecord }

func (s *swapRecord) Swap(ctx context.Context, old, content string) error {
	return s.d.write(ctx, s.node, content, func() error {
		if s.d.content != old {
			return fmt.Errorf("swap: %w", failover.ErrConflict)
		}
		return nil
	})
}

// fencedRecord is one member's client of a provider that compares and
// fences (RFC 2136 with prerequisites).
type fencedRecord struct{ swapRecord }

func (f *fencedRecord) RaiseFence(ctx context.Context, term uint64) error {
	_, err := f.d.do(ctx, func() (string, error) {
		if f.d.fence > term {
			return "", fmt.Errorf("fence holds %d: %w", f.d.fence, failover.ErrConflict)
		}
		f.d.fence = term
		return "", nil
	})
	return err
}

func (f *fencedRecord) SwapFenced(ctx context.Context, term uint64, old, content string) error {
	return f.d.write(ctx, f.node, content, func() error {
		if f.d.fence != term || f.d.content != old {
			return fmt.Errorf("fence %d, term %d: %w", f.d.fence, term, failover.ErrConflict)
		}
		return nil
	})
}

var (
	_ failover.RecordStore = (*plainRecord)(nil)
	_ failover.Swapper     = (*swapRecord)(nil)
	_ failover.Swapper     = (*fencedRecord)(nil)
	_ quorum.Fencer        = (*fencedRecord)(nil)
)
