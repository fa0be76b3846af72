package rfc2136

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/clooster/clooster/internal/failover"
)

// fenceLabel is the fence's label under the zone's apex.
const fenceLabel = "_clooster"

// fenceTTL is the TTL the fence is written with: 0, so that no resolver
// keeps it. Only the primary is asked for it.
const fenceTTL = 0

// raiseAttempts bounds RaiseFence: a failed prerequisite (the fence changed
// between its read and the update) is read and decided again once.
const raiseAttempts = 2

// maxValue is how much of a fence that is not one a message quotes.
const maxValue = 120

// FenceName is the name of the zone's fence, fully qualified, lower case:
// "_clooster.example.com.".
func (r *Record) FenceName() string { return r.fence.name }

// fenceState is what a read of the fence found.
type fenceState struct {
	rrs  []dns.RR // the TXT RRset as read; none if the fence is absent
	term uint64   // 0 if absent
}

// what says what the fence holds: "term 7", or "no fence".
func (f fenceState) what() string {
	if len(f.rrs) == 0 {
		return "no fence"
	}
	return "term " + strconv.FormatUint(f.term, 10)
}

// RaiseFence sets the zone's fence to term if it holds a lower term or
// none, in one UPDATE whose prerequisite is that the fence is exactly what
// was read (or does not exist); if it holds term already, it does nothing.
// If it holds a higher term, nothing is written and the error wraps
// failover.ErrConflict. A failed prerequisite is read and decided again
// once; failing again, it is a conflict too. A fence that is not one
// ("term=<n>" in one TXT record) is not overwritten: the error names it
// and asks to retry later, as only an operator can fix it.
func (r *Record) RaiseFence(ctx context.Context, term uint64) error {
	if term == 0 {
		return r.termZero()
	}
	f := r.fence
	for attempt := 1; ; attempt++ {
		cur, err := r.readFence(ctx)
		if err != nil {
			return err
		}
		switch {
		case cur.term > term:
			return f.newError(opRead,
				fmt.Sprintf("the fence holds term %d, above this leader's term %d: a later leader exists; nothing written", cur.term, term),
				failover.ErrConflict)
		case cur.term == term:
			return nil
		}
		reply, err := f.exchange(ctx, opUpdate, f.raiseUpdate(cur.rrs, term))
		if err != nil {
			return err
		}
		switch reply.Rcode {
		case dns.RcodeSuccess:
			return nil
		case dns.RcodeNXRrset, dns.RcodeYXRrset, dns.RcodeNameError:
			if attempt < raiseAttempts {
				continue
			}
			return f.fail(opUpdate, reply, failover.ErrConflict,
				fmt.Sprintf("%s: the fence changed between its read and the update, %d times in a row: term %d not written",
					dns.RcodeToString[reply.Rcode], raiseAttempts, term))
		}
		return f.rcodeError(opUpdate, reply)
	}
}

// raiseUpdate, of the fence f, is the UPDATE that replaces the fence read
// (none if read is empty) with term.
func (f *Record) raiseUpdate(read []dns.RR, term uint64) *dns.Msg {
	m := new(dns.Msg)
	m.SetUpdate(f.zone)
	if len(read) == 0 {
		m.RRsetNotUsed([]dns.RR{f.fenceRR(0)})
	} else {
		was := make([]dns.RR, len(read))
		for i, rr := range read {
			was[i] = dns.Copy(rr)
		}
		m.Used(was)
	}
	m.RemoveRRset([]dns.RR{f.fenceRR(0)})
	m.Insert([]dns.RR{f.fenceRR(term)})
	return m
}

// fenceRR, of the fence f, is the fence holding term, with fenceTTL.
func (f *Record) fenceRR(term uint64) *dns.TXT {
	return &dns.TXT{
		Hdr: dns.RR_Header{Name: f.name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: fenceTTL},
		Txt: []string{"term=" + strconv.FormatUint(term, 10)},
	}
}

// SwapFenced replaces the record's RRset with one record of content in
// one UPDATE whose prerequisites are that the zone's fence holds exactly
// term and that the RRset holds exactly the records of old, as Swap. If
// either does not hold, nothing is written and the error wraps
// failover.ErrConflict; it says which, from one read of the fence.
func (r *Record) SwapFenced(ctx context.Context, term uint64, old, content string) error {
	if term == 0 {
		return r.termZero()
	}
	m, err := r.swapUpdate(ctx, old, content)
	if err != nil {
		return err
	}
	m.Used([]dns.RR{r.fence.fenceRR(term)})
	reply, err := r.exchange(ctx, opUpdate, m)
	if err != nil {
		return err
	}
	switch reply.Rcode {
	case dns.RcodeSuccess:
		return nil
	case dns.RcodeNXRrset, dns.RcodeYXRrset, dns.RcodeNameError:
		return r.fail(opUpdate, reply, failover.ErrConflict, r.fencedConflictMsg(ctx, reply, term, old))
	}
	return r.rcodeError(opUpdate, reply)
}

// fencedConflictMsg says which prerequisite of SwapFenced failed, in
// reply: it reads the fence to tell.
func (r *Record) fencedConflictMsg(ctx context.Context, reply *dns.Msg, term uint64, old string) string {
	cur, err := r.readFence(ctx)
	switch {
	case err != nil:
		why := err.Error()
		if e := (*Error)(nil); errors.As(err, &e) {
			why = e.Msg
		}
		return fmt.Sprintf("%s: the record or the fence changed: nothing written (reading the fence to tell which: %s)",
			dns.RcodeToString[reply.Rcode], why)
	case cur.term == term:
		return r.changedMsg(reply, old)
	}
	msg := fmt.Sprintf("%s: the fence %s holds %s, not this leader's term %d: nothing written",
		dns.RcodeToString[reply.Rcode], r.fence.name, cur.what(), term)
	if cur.term > term {
		msg += " (a later leader exists)"
	}
	return msg
}

// termZero is the error for a term of 0, which no leader has.
func (r *Record) termZero() error {
	return fmt.Errorf("rfc2136: fence %s: term 0 is no leader's (Raft's terms start at 1)", r.fence.name)
}

// readFence reads the zone's fence: absent (no such name, or no TXT at
// it) is term 0. A fence that is not one TXT record of one string
// "term=<n>" is an error that names what it holds, as a
// *failover.RetryLater: only an operator can fix it.
func (r *Record) readFence(ctx context.Context) (fenceState, error) {
	f := r.fence
	m := new(dns.Msg)
	m.SetQuestion(f.name, dns.TypeTXT)
	m.RecursionDesired = false
	m.SetEdns0(dns.DefaultMsgSize, false)
	reply, err := f.exchange(ctx, opRead, m)
	if err != nil {
		return fenceState{}, err
	}
	switch reply.Rcode {
	case dns.RcodeSuccess, dns.RcodeNameError:
	default:
		return fenceState{}, f.rcodeError(opRead, reply)
	}
	if !reply.Authoritative {
		return fenceState{}, f.fail(opRead, reply, nil,
			fmt.Sprintf("the answer is not authoritative: the server does not serve zone %s (check the server and the zone)", f.zone))
	}
	var rrs []dns.RR
	for _, rr := range reply.Answer {
		h := rr.Header()
		if !strings.EqualFold(h.Name, f.name) {
			continue
		}
		switch h.Rrtype {
		case dns.TypeTXT:
			rrs = append(rrs, rr)
		case dns.TypeCNAME:
			return fenceState{}, operatorError(f.fail(opRead, reply, nil, fmt.Sprintf(
				"the fence's name holds a CNAME (%s), not the fence: nothing written (delete it; the name is clooster's alone)", rdata(rr))).(*Error))
		}
	}
	if len(rrs) == 0 {
		return fenceState{}, nil
	}
	term, ok := parseFence(rrs)
	if !ok {
		return fenceState{}, operatorError(f.fail(opRead, reply, nil, fmt.Sprintf(
			`the fence holds %s, not one TXT record "term=<n>": nothing written (delete the RRset; the name is clooster's alone)`, fenceValue(rrs))).(*Error))
	}
	return fenceState{rrs: rrs, term: term}, nil
}

// parseFence is the term of the fence rrs: one TXT record of one string
// "term=<n>", n in decimal without leading zeros.
func parseFence(rrs []dns.RR) (uint64, bool) {
	if len(rrs) != 1 {
		return 0, false
	}
	txt, ok := rrs[0].(*dns.TXT)
	if !ok || len(txt.Txt) != 1 {
		return 0, false
	}
	digits, ok := strings.CutPrefix(txt.Txt[0], "term=")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || strconv.FormatUint(n, 10) != digits {
		return 0, false
	}
	return n, true
}

// fenceValue is what the fence rrs hold, as in a zone file: `"term=7"`,
// records joined by ", ", cut at maxValue characters.
func fenceValue(rrs []dns.RR) string {
	parts := make([]string, len(rrs))
	for i, rr := range rrs {
		parts[i] = rdata(rr)
	}
	s := strings.Join(parts, ", ")
	if len(s) > maxValue {
		s = s[:maxValue] + "..."
	}
	return s
}

// rdata is rr's data as in a zone file.
func rdata(rr dns.RR) string {
	return strings.TrimSpace(strings.TrimPrefix(rr.String(), rr.Header().String()))
}
