package failover

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Record is what one read of the record returns.
type Record struct {
	Content string
	// Modified is when the record last changed, on this node's clock: a
	// store whose provider stamps changes converts the stamp with the
	// provider's clock offset as measured at this read, so that a skewed
	// provider clock does not shift it. Zero if the store cannot say.
	Modified time.Time
	// APIClock is the provider's clock's offset from this node's, as
	// this answer showed it; unknown if the provider does not say.
	APIClock ClockOffset
}

// RecordStore is the DNS record the pair fails over, as a node's worker
// uses it. Each call is one attempt: the worker owns retries and backoff.
//
// Errors: a record that does not exist (deleted, or no longer of the
// configured type) wraps ErrMissing; a provider that says when to try again
// (a 429's Retry-After, refused credentials) wraps a *RetryLater; a write
// refused for what it holds wraps ErrRefused; a set's write that landed in
// part is a *PartialWrite. Anything else is retried with backoff.
type RecordStore interface {
	// Read returns the record as it is now.
	Read(ctx context.Context) (Record, error)
	// Write sets the record's content and nothing else of it.
	Write(ctx context.Context, content string) error
}

// Swapper is a RecordStore whose provider can compare and swap (RFC 2136
// prerequisites): the node then makes every write conditional on what it
// read, so that two nodes can never overwrite each other's write, whatever
// their timing.
type Swapper interface {
	RecordStore
	// Swap sets the record's content to content only if it still holds
	// old (never ""). If it holds anything else, or no longer exists,
	// nothing is written and the error wraps ErrConflict: someone else
	// wrote first; read again and decide again.
	Swap(ctx context.Context, old, content string) error
}

// ErrConflict: a conditional write found the record changed since it was
// read (or gone), and wrote nothing.
var ErrConflict = errors.New("record changed since it was read")

// PartSep separates the contents of a record set's records in the set's
// content (internal/recordset): the rule judges a set as one record, and
// reads a set's parts where a record of it changed alone.
const PartSep = ", "

// PartialWrite is a store's error for a write that landed in part: a set
// some of whose records took the write and some refused it. Landed is
// what the set holds now; Err is why the rest failed.
type PartialWrite struct {
	Landed string
	Err    error
}

func (e *PartialWrite) Error() string { return e.Err.Error() }

func (e *PartialWrite) Unwrap() error { return e.Err }

// ErrMissing: the record does not exist, or not with the configured type.
var ErrMissing = errors.New("record missing")

// ErrRefused: the provider refused the write for what it holds (an
// invalid content, a locked record): it did not land.
var ErrRefused = errors.New("write refused")

// RetryLater is a store's error that says how long to wait before the next
// attempt.
type RetryLater struct {
	After time.Duration
	Err   error
}

func (e *RetryLater) Error() string {
	return fmt.Sprintf("%v (retry after %s)", e.Err, e.After)
}

func (e *RetryLater) Unwrap() error { return e.Err }

// retryAfter is what err asks to wait, 0 if it does not say.
func retryAfter(err error) time.Duration {
	var r *RetryLater
	if errors.As(err, &r) {
		return r.After
	}
	return 0
}

// OnOurClock converts a provider's change stamp to this node's clock: the
// provider said, in the answer we received at local, that its time was
// then providerNow; so the change was providerNow-stamp before local,
// whatever the offset between the two clocks. A zero stamp or providerNow
// gives a zero time (unknown). HTTP's Date header has a resolution of one
// second, so the result can be up to a second late; the rule allows for it
// (clockSkew).
func OnOurClock(stamp, providerNow, local time.Time) time.Time {
	if stamp.IsZero() || providerNow.IsZero() {
		return time.Time{}
	}
	return local.Add(-providerNow.Sub(stamp))
}
