// Package recordset makes the records a pair owns one failover.RecordStore:
// the decision code judges the set as one record whose content is its
// records' contents in order, joined by Sep, and a write moves every record
// that differs, concurrently, at most one write each. A set of one record is
// that record, byte for byte.
//
// A record whose read or write fails does not hold up the others: the
// others are read and written, and the error names the records that
// failed, so that the worker's retry writes only those.
//
// Concurrency: a Set is safe for concurrent use; its calls start goroutines
// that end before the calls return.
package recordset

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/clooster/clooster/internal/failover"
)

// Sep separates the records' contents in the set's content. No content of
// an A, AAAA or CNAME record holds it.
const Sep = ", "

// Join is the set's content of its records' contents, in order.
func Join(contents []string) string { return strings.Join(contents, Sep) }

// Member is one record of a set: how people name it, and its store.
type Member struct {
	Label string // name and type, for messages
	Store failover.RecordStore
}

// Batcher reads and writes several records of a set with one request
// each way (a provider that lists a zone and changes several records in
// one call). Index i is the group's i-th member.
type Batcher interface {
	ReadAll(ctx context.Context) ([]failover.Record, []error)
	WriteAll(ctx context.Context, contents map[int]string) map[int]error
}

// Group is members of a set that a Batcher reads and writes together:
// Members are indexes into the set's members, in the Batcher's order.
type Group struct {
	Batcher Batcher
	Members []int
}

// State is what a set knows of one of its records, for the status page.
type State struct {
	Label    string
	Content  string // as last read or written; "" if never
	Missing  bool   // the last read found no such record
	ReadAt   time.Time
	WroteAt  time.Time // the last successful write
	WriteErr string    // the last write's error, "" if it succeeded or none was made
	ReadErr  string    // the last read's error, "" if it succeeded (a missing record too)
	// Writes and Failures count the writes made, and those that failed.
	Writes, Failures uint64
}

// Set is the records of a pair as one store. Create it with New.
type Set struct {
	members []Member
	groups  []Group
	alone   []int // the members of no group
	now     func() time.Time

	mu     sync.Mutex
	states []State
}

// New returns the set of members, in their order; the members of a group
// are read and written by its Batcher, the others each on their own.
func New(members []Member, groups ...Group) *Set {
	s := &Set{members: members, groups: groups, now: time.Now, states: make([]State, len(members))}
	grouped := make([]bool, len(members))
	for _, g := range groups {
		for _, i := range g.Members {
			grouped[i] = true
		}
	}
	for i, m := range members {
		s.states[i].Label = m.Label
		if !grouped[i] {
			s.alone = append(s.alone, i)
		}
	}
	return s
}

// States is what the set knows of each record, in order.
func (s *Set) States() []State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]State(nil), s.states...)
}

// Read reads every record at once. The set's Modified is its latest
// record's change, unknown if any record's is; its APIClock is the most
// precise of its records' answers', unknown if none says. An error names
// the records that failed; a missing record makes the set missing.
func (s *Set) Read(ctx context.Context) (failover.Record, error) {
	recs := make([]failover.Record, len(s.members))
	errs := s.each(func(i int, m Member) error {
		r, err := m.Store.Read(ctx)
		recs[i] = r
		return err
	}, func(g Group, errs []error) {
		rs, es := g.Batcher.ReadAll(ctx)
		for k, i := range g.Members {
			recs[i], errs[i] = rs[k], es[k]
		}
	})
	now := s.now()
	s.mu.Lock()
	for i, err := range errs {
		st := &s.states[i]
		switch {
		case err == nil:
			st.Content, st.Missing, st.ReadAt, st.ReadErr = recs[i].Content, false, now, ""
		case errors.Is(err, failover.ErrMissing):
			st.Content, st.Missing, st.ReadAt, st.ReadErr = "", true, now, ""
		default:
			st.ReadErr = err.Error()
		}
	}
	s.mu.Unlock()
	if err := s.combine("read", errs); err != nil {
		return failover.Record{}, err
	}
	contents := make([]string, len(recs))
	var modified time.Time
	var clock failover.ClockOffset // the API's, as its most precise answer showed it
	unknown := false
	for i, r := range recs {
		contents[i] = r.Content
		if r.Modified.IsZero() {
			unknown = true
		} else if r.Modified.After(modified) {
			modified = r.Modified
		}
		if c := r.APIClock; c.Known && (!clock.Known || c.Err < clock.Err) {
			clock = c
		}
	}
	if unknown {
		modified = time.Time{}
	}
	return failover.Record{Content: Join(contents), Modified: modified, APIClock: clock}, nil
}

// Write makes every record hold its part of content, writing only those
// that, as last read or written, hold something else.
func (s *Set) Write(ctx context.Context, content string) error {
	return s.write(ctx, content, nil)
}

// Swap makes every record hold its part of content where old, what the
// set held when read, differs: each record whose store can compare and
// swap only if it still holds its part of old; the others as Write does.
// If a record lost its swap, the error wraps failover.ErrConflict,
// whatever the others did: what the set holds is known again only from
// a read.
func (s *Set) Swap(ctx context.Context, old, content string) error {
	from := s.split(old)
	if from == nil {
		return fmt.Errorf("recordset: %q has not %d parts", old, len(s.members))
	}
	return s.write(ctx, content, from)
}

// write is Write, or with from, Swap.
func (s *Set) write(ctx context.Context, content string, from []string) error {
	want := s.split(content)
	if want == nil {
		return fmt.Errorf("recordset: %q has not %d parts", content, len(s.members))
	}
	s.mu.Lock()
	todo := make([]bool, len(s.members))
	for i, st := range s.states {
		if from != nil {
			todo[i] = from[i] != want[i]
		} else {
			todo[i] = st.Content != want[i] || st.Missing || st.ReadAt.IsZero()
		}
	}
	s.mu.Unlock()
	errs := s.each(func(i int, m Member) error {
		if !todo[i] {
			return nil
		}
		if sw, ok := m.Store.(failover.Swapper); ok && from != nil {
			return sw.Swap(ctx, from[i], want[i])
		}
		return m.Store.Write(ctx, want[i])
	}, func(g Group, errs []error) {
		contents := map[int]string{}
		for k, i := range g.Members {
			if todo[i] {
				contents[k] = want[i]
			}
		}
		if len(contents) == 0 {
			return
		}
		for k, err := range g.Batcher.WriteAll(ctx, contents) {
			errs[g.Members[k]] = err
		}
	})
	now := s.now()
	s.mu.Lock()
	for i, err := range errs {
		if !todo[i] {
			continue
		}
		st := &s.states[i]
		if err != nil {
			st.WriteErr = err.Error()
			st.Failures++
			continue
		}
		st.Content, st.Missing, st.WroteAt, st.WriteErr = want[i], false, now, ""
		st.Writes++
	}
	landed := make([]string, len(s.states))
	for i, st := range s.states {
		landed[i] = st.Content
	}
	s.mu.Unlock()
	err := s.combine("write", errs)
	if err != nil && len(s.members) > 1 && allRefused(errs) && !errors.Is(err, failover.ErrConflict) {
		// Every record that failed refused the write: the set holds
		// what the others took, and that is known. (A record that lost
		// its swap holds what someone else wrote, which is not known:
		// the error is a conflict, and the node reads the set again.)
		return &failover.PartialWrite{Landed: Join(landed), Err: err}
	}
	return err
}

// allRefused reports whether every error of errs that is not nil is a
// refusal (the write did not land).
func allRefused(errs []error) bool {
	for _, err := range errs {
		if err != nil && !errors.Is(err, failover.ErrRefused) {
			return false
		}
	}
	return true
}

// split is content's parts, one per record; nil if it has not that many.
func (s *Set) split(content string) []string {
	if len(s.members) == 1 {
		return []string{content}
	}
	parts := strings.Split(content, Sep)
	if len(parts) != len(s.members) {
		return nil
	}
	return parts
}

// each runs f for every member of no group, and batch for every group, all
// at once (a set of one in the caller's goroutine), and returns the
// members' errors, in order.
func (s *Set) each(f func(int, Member) error, batch func(Group, []error)) []error {
	errs := make([]error, len(s.members))
	if len(s.members) == 1 && len(s.groups) == 0 {
		errs[0] = f(0, s.members[0])
		return errs
	}
	var wg sync.WaitGroup
	for _, i := range s.alone {
		wg.Go(func() { errs[i] = f(i, s.members[i]) })
	}
	for _, g := range s.groups {
		wg.Go(func() { batch(g, errs) })
	}
	wg.Wait()
	return errs
}

// combine is the set's error of its records' errors: nil if none failed;
// a set of one, the record's own error; else one error that names each
// record that failed, is a *failover.RetryLater with the longest wait if
// any asks to wait, and is failover.ErrMissing only if nothing but missing
// records failed.
func (s *Set) combine(op string, errs []error) error {
	var failed []string
	var wait time.Duration
	var wrapped []error
	onlyMissing := true
	for i, err := range errs {
		if err == nil {
			continue
		}
		if len(s.members) == 1 {
			return err
		}
		failed = append(failed, fmt.Sprintf("%s: %v", s.members[i].Label, err))
		wrapped = append(wrapped, err)
		var r *failover.RetryLater
		if errors.As(err, &r) && r.After > wait {
			wait = r.After
		}
		if !errors.Is(err, failover.ErrMissing) {
			onlyMissing = false
		}
	}
	if len(failed) == 0 {
		return nil
	}
	err := &setError{msg: fmt.Sprintf("%s %d of %d records failed: %s", op, len(failed), len(errs), strings.Join(failed, "; ")),
		errs: wrapped, missing: onlyMissing}
	if wait > 0 {
		return &failover.RetryLater{After: wait, Err: err}
	}
	return err
}

// setError is the error of several records; it is failover.ErrMissing
// only when every failure was a missing record.
type setError struct {
	msg     string
	errs    []error
	missing bool
}

func (e *setError) Error() string { return e.msg }

// Is makes errors.Is(err, failover.ErrMissing) true only for a set whose
// failures are all missing records; other targets are looked for in the
// records' errors.
func (e *setError) Is(target error) bool {
	if target == failover.ErrMissing {
		return e.missing
	}
	for _, err := range e.errs {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}
