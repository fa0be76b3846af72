package watchdog

import (
	"sync"
	"time"
)

// limiter bounds what unauthenticated connections can cost: how many may be
// in their handshake at once, in all and per address, and how often one
// address may fail. Failures spend a token; tokens come back at a steady
// rate; a success restores the address's full allowance. Safe for
// concurrent use.
type limiter struct {
	maxInflight int     // handshakes in progress, all addresses
	maxPerAddr  int     // handshakes in progress, one address
	burst       float64 // failures allowed in a row
	refill      float64 // tokens per second
	maxAddrs    int     // addresses tracked at most
	now         func() time.Time

	mu       sync.Mutex
	inflight int
	addrs    map[string]*bucket
}

type bucket struct {
	tokens     float64
	at         time.Time
	inflight   int
	suppressed int       // rejections not logged since lastLogged
	lastLogged time.Time // of a "rate limited" line
}

func newLimiter() *limiter {
	return &limiter{
		maxInflight: 64,
		maxPerAddr:  8,
		burst:       10,
		refill:      0.5,
		maxAddrs:    4096,
		now:         time.Now,
		addrs:       make(map[string]*bucket),
	}
}

// admit decides whether a new connection from addr may start a handshake.
// If it may, the caller must call done exactly once. If it may not, admit
// says why and whether this rejection should be logged (rejections of one
// limited address are logged at most every 10 s, with a count).
func (l *limiter) admit(addr string) (ok bool, why string, logIt bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.addrs[addr]
	if b == nil {
		if len(l.addrs) >= l.maxAddrs {
			l.sweep(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		if len(l.addrs) < l.maxAddrs {
			l.addrs[addr] = b
		}
	}
	l.fill(b, now)
	switch {
	case b.tokens < 1:
		why = "rate limited"
	case b.inflight >= l.maxPerAddr:
		why = "too many handshakes from this address"
	case l.inflight >= l.maxInflight:
		why = "too many handshakes in progress"
	default:
		b.inflight++
		l.inflight++
		return true, "", false, 0
	}
	if now.Sub(b.lastLogged) >= 10*time.Second {
		n := b.suppressed
		b.suppressed, b.lastLogged = 0, now
		return false, why, true, n
	}
	b.suppressed++
	return false, why, false, 0
}

// done ends a handshake admitted by admit.
func (l *limiter) done(addr string, success bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inflight--
	b := l.addrs[addr]
	if b == nil {
		return
	}
	b.inflight--
	now := l.now()
	l.fill(b, now)
	if success {
		b.tokens = l.burst
	} else {
		b.tokens--
	}
	if b.inflight == 0 && b.tokens >= l.burst {
		delete(l.addrs, addr)
	}
}

func (l *limiter) abandoned(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inflight--
	if b := l.addrs[addr]; b != nil {
		b.inflight--
		l.fill(b, l.now())
		if b.inflight == 0 && b.tokens >= l.burst {
			delete(l.addrs, addr)
		}
	}
}

func (l *limiter) fill(b *bucket, now time.Time) {
	b.tokens += now.Sub(b.at).Seconds() * l.refill
	if b.tokens > l.burst {
		b.tokens = l.burst
	}
	b.at = now
}

// sweep forgets addresses that are back to a full allowance.
func (l *limiter) sweep(now time.Time) {
	for a, b := range l.addrs {
		l.fill(b, now)
		if b.inflight == 0 && b.tokens >= l.burst {
			delete(l.addrs, a)
		}
	}
}
