package sim

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/clooster/clooster/internal/failover"
	"github.com/clooster/clooster/internal/recordset"
)

// outsider marks a write made by neither node: an operator's edit.
const outsider = -1

// dnsAPI is the DNS provider's API as both nodes see it: one record, its
// history, and the faults of the moment. Its clock runs sc.APISkew ahead
// of true time; its answers carry that clock (a Date header) and, unless
// sc.NoModified, the record's change stamp.
type dnsAPI struct {
	w        *World
	exists   bool
	typ      string
	content  string
	modified time.Time // on the API's clock

	// What a stale read shows: the record before the last write.
	before         string
	beforeModified time.Time
	lastWrite      time.Time // true time

	down, lost int             // fault counters
	refused    []int           // of a set: per record, active refuse-one faults
	late       bool            // the call being served arrives after its sender gave up
	cond       bool            // the write being served is conditional (compare and swap)
	sent       time.Time       // when the call being served was sent
	decidedOn  time.Time       // the served time of the read the write being served was decided on
	behind     bool            // the read being served shows the record as before the last write
	throttle   []time.Duration // active 429 faults: their Retry-After
	slow       []time.Duration
	stale      []time.Duration

	writes     []apiWrite
	calls      int
	conflicts  int            // conditional writes that lost
	lastServed time.Time      // of the last read, for the answer's callback
	recent     [2][]time.Time // each node's calls of the last minute
}

// apiWrite is one write that the API applied.
type apiWrite struct {
	at      time.Time
	by      int // node index, or outsider
	inc     int
	content string
	before  string // what it replaced
	purpose failover.Purpose
	job     *simJob   // nil for an outside edit
	linked  bool      // both nodes used one link when it landed
	lost    bool      // its answer never reached the writer
	late    bool      // applied after the writer gave up on it: nobody knows of it
	sent    time.Time // when its writer sent it
	// decidedOn: the true time as of which the read its job decided it on
	// showed the record (simJob.served when it was sent: a job that
	// reads again after the write timed out does not move it).
	decidedOn time.Time
	partial   bool // of a set, written in part: a record refused the write
	swap      bool // conditional on what its job read
}

func (d *dnsAPI) clock() time.Time { return d.w.now.Add(d.w.sc.APISkew) }

var (
	errServer  = errors.New("cloudflare: 503 Service Unavailable")
	errTimeout = errors.New("context deadline exceeded")
	errMissing = fmt.Errorf("find record www.example.com: not found (%w)", failover.ErrMissing)
	errSwapped = fmt.Errorf("update www.example.com: prerequisite failed: NXRRSET (%w)", failover.ErrConflict)
)

// request is one API call from node n's job j: a read, or a write of
// content (with a provider that compares and swaps, only over old). The answer comes back to the node through done, unless the
// call times out first (failover.APITimeout) or the node is gone.
func (d *dnsAPI) request(n *node, j *simJob, write bool, content, old string, done func(failover.Record, error)) {
	w := d.w
	d.calls++
	if j != nil {
		j.calls++
		var slow time.Duration
		for _, s := range d.slow {
			slow += s
		}
		j.slowest = max(j.slowest, slow)
	}
	w.truth.called(n.i)
	inc := n.inc
	sent := w.now
	var decidedOn time.Time // a job's later reads, after this write timed out, do not move it
	if j != nil {
		decidedOn = j.served
	}
	latency := func() time.Duration {
		l := w.sc.APILatency + w.uniform(0, w.sc.APILatency/2)
		for _, s := range d.slow {
			l += w.uniform(0, s)
		}
		return l
	}
	there, back := latency(), latency()
	answered := false
	var served time.Time
	answer := func(rec failover.Record, err error) {
		if answered {
			return
		}
		answered = true
		n.input(inc, func() { d.lastServed = served; done(rec, err) })
	}
	w.at(sent.Add(failover.APITimeout), func() { answer(failover.Record{}, errTimeout) })
	w.at(sent.Add(there), func() {
		served = w.now
		applied := len(d.writes)
		d.late = there >= failover.APITimeout // the writer has given up on it already
		d.sent, d.decidedOn = sent, decidedOn
		rec, err, lost := d.serve(n, j, write, content, old)
		if d.behind {
			// A stale read: it shows the record as it was just before
			// the last write, as a read served then would have.
			served = d.lastWrite.Add(-time.Nanosecond)
		}
		d.late, d.sent, d.decidedOn, d.behind = false, time.Time{}, time.Time{}, false
		if lost || there+back >= failover.APITimeout {
			if len(d.writes) > applied {
				d.writes[applied].lost = true // the writer will not know it landed
			}
			return // the client times out
		}
		w.after(back, func() {
			if !n.machineUp || n.inc != inc {
				return
			}
			// What cfapi's store does with the answer's Date header (the
			// API's clock when it answered, in whole seconds): the API's
			// clock less this node's, between the request's going and
			// the answer's coming on this node's clock
			// (failover.DateOffset); and the change stamp on this node's
			// clock.
			date := d.clockAt(w.now.Add(-back)).Truncate(time.Second)
			if rec.Content != "" {
				rec.APIClock = failover.DateOffset(date, sent.Add(w.sc.NodeSkew[n.i]), n.clock())
			}
			if rec.Content != "" && !w.sc.NoModified {
				rec.Modified = failover.OnOurClock(rec.Modified, date, n.clock())
			} else {
				rec.Modified = time.Time{}
			}
			answer(rec, err)
		})
	})
}

func (d *dnsAPI) clockAt(t time.Time) time.Time { return t.Add(d.w.sc.APISkew) }

// serve carries out a call at the API; lost: its answer never arrives.
func (d *dnsAPI) serve(n *node, j *simJob, write bool, content, old string) (rec failover.Record, err error, lost bool) {
	w := d.w
	switch {
	case d.down > 0:
		return rec, errServer, false
	case len(d.throttle) > 0:
		return rec, &failover.RetryLater{After: d.throttle[0], Err: errors.New("cloudflare: 429 Too Many Requests")}, false
	case write && w.sc.Swap && old != "" && (!d.exists || d.typ != w.sc.Type):
		// The prerequisite fails: nothing is written.
		d.conflict(j)
		return rec, errSwapped, false
	case !d.exists || d.typ != w.sc.Type:
		return rec, errMissing, false
	}
	if !write {
		rec = failover.Record{Content: d.content, Modified: d.modified}
		if len(d.stale) > 0 && w.now.Sub(d.lastWrite) < d.stale[0] {
			rec = failover.Record{Content: d.before, Modified: d.beforeModified}
			d.behind = true
		}
		return rec, nil, false
	}
	conflict := false
	d.cond = w.sc.Swap && old != ""
	defer func() { d.cond = false }()
	if d.cond {
		if content, conflict = d.swapping(old, content); conflict {
			d.conflict(j)
			if content == d.content {
				return rec, errSwapped, false // every prerequisite failed: nothing written
			}
		}
	}
	if partial, refused := d.refusing(content); refused != "" {
		// A set whose batch the API refuses for one record: written one
		// by one, the others land; the error names the refused one.
		err := fmt.Errorf("write 1 of %d records failed: %s: 400 Bad Request (%w)", w.sc.Set, refused, failover.ErrRefused)
		if partial != d.content {
			d.apply(n.i, n.inc, partial, j)
			d.writes[len(d.writes)-1].partial = true
		}
		if conflict {
			// A record lost its swap as well: what the set holds is
			// known only from a read (recordset's conflict wins).
			return rec, errSwapped, false
		}
		return rec, &failover.PartialWrite{Landed: partial, Err: err}, false
	}
	d.apply(n.i, n.inc, content, j)
	if conflict {
		// Some records of the set took it, the others had changed: a
		// conflict, as recordset says it.
		d.writes[len(d.writes)-1].partial = true
		return rec, errSwapped, false
	}
	return failover.Record{Content: content}, nil, d.lost > 0
}

// conflict counts a conditional write of job j that lost.
func (d *dnsAPI) conflict(j *simJob) {
	d.conflicts++
	if j != nil {
		j.conflicts++
	}
}

// swapping is what a conditional write of content over old leaves: one
// record as it is if it no longer holds old; of a set, each record that
// old and content differ on takes its part if it still holds its part of
// old, and the others stay as they are (as recordset's Swap does).
// conflict: some record had changed.
func (d *dnsAPI) swapping(old, content string) (result string, conflict bool) {
	if d.w.sc.Set <= 1 {
		if d.content != old {
			return d.content, true
		}
		return content, false
	}
	from, want, cur := strings.Split(old, recordset.Sep), strings.Split(content, recordset.Sep), strings.Split(d.content, recordset.Sep)
	if len(from) != len(cur) || len(want) != len(cur) {
		return d.content, true
	}
	out := slices.Clone(cur)
	for i := range cur {
		switch {
		case from[i] == want[i]:
			// not written
		case cur[i] != from[i]:
			conflict = true
		default:
			out[i] = want[i]
		}
	}
	return recordset.Join(out), conflict
}

// refusing is what a write of content leaves while some of the set's
// records refuse writes: content, but the refused records as they are;
// refused names one refused record that the write would change ("" if
// none).
func (d *dnsAPI) refusing(content string) (partial, refused string) {
	if d.refused == nil {
		return content, ""
	}
	want, cur := strings.Split(content, recordset.Sep), strings.Split(d.content, recordset.Sep)
	if len(want) != len(cur) {
		return content, ""
	}
	for i, n := range d.refused {
		if n > 0 && want[i] != cur[i] {
			want[i], refused = cur[i], fmt.Sprintf("record %d", i)
		}
	}
	return recordset.Join(want), refused
}

// apply writes content, by node by (or outsider).
func (d *dnsAPI) apply(by, inc int, content string, j *simJob) {
	w := d.w
	d.before, d.beforeModified = d.content, d.modified
	wr := apiWrite{at: w.now, by: by, inc: inc, content: content, before: d.content, job: j, linked: w.truth.conn != nil, late: d.late, sent: d.sent, decidedOn: d.decidedOn, swap: d.cond}
	if j != nil {
		wr.purpose = j.purpose
	}
	d.content, d.modified, d.lastWrite = content, d.clock(), w.now
	d.writes = append(d.writes, wr)
	if by == outsider {
		w.logf("API: an operator writes %q over %q", content, wr.before)
	} else {
		w.logf("API: %s writes %q over %q (%s)", nodeName(by), content, wr.before, wr.purpose)
	}
	w.truth.wrote(wr)
}
