package pairtest

import (
	"context"
	"strings"
	"time"
)

// Poll is how often WaitFor looks: short, since tests measure durations by
// polling.
const Poll = 5 * time.Millisecond

// WaitFor polls cond every Poll until it holds and returns how long that
// took. If it does not hold within limit, t fails, naming what it waited
// for.
func WaitFor(t T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	return WaitEvery(t, Poll, limit, what, cond)
}

// WaitEvery is WaitFor polling every poll; t also fails as soon as one of
// watch has exited, or when its context is done.
func WaitEvery(t T, poll, limit time.Duration, what string, cond func() bool, watch ...*Proc) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		for _, p := range watch {
			if p.Exited() {
				t.Fatalf("%s: %s exited", what, p.Label)
			}
		}
		if time.Since(start) > limit {
			t.Fatalf("%s: did not happen within %v", what, limit)
		}
		if !sleep(t.Context(), poll) {
			t.Fatalf("%s: interrupted", what)
		}
	}
	return time.Since(start)
}

// WaitLinked waits up to limit until every process shows its peer up and
// has read the record, and returns how long that took. t fails if one of
// them exits meanwhile.
func WaitLinked(t T, limit time.Duration, ps ...*Proc) time.Duration {
	t.Helper()
	var names []string
	for _, p := range ps {
		names = append(names, p.Label)
	}
	return WaitEvery(t, Poll, limit, "link between "+strings.Join(names, " and "), func() bool { return Linked(ps...) }, ps...)
}

// Within polls cond every poll until it holds, for at most limit, and
// reports whether it held: for a wait whose end is a figure, not a failure.
func Within(poll, limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(poll)
	}
	return true
}

// Sleep waits d; t fails if its context is done first.
func Sleep(t T, d time.Duration) {
	t.Helper()
	if !sleep(t.Context(), d) {
		t.Fatalf("interrupted")
	}
}

// sleep waits d and reports true, or false as soon as ctx is done.
func sleep(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}
