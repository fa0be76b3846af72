package failover

import (
	"errors"
	"time"

	"github.com/clooster/clooster/internal/backoff"
)

// retries is the backoff of a job's attempts; a store's Retry-After
// lengthens a wait, never shortens it.
var retries = backoff.Policy{Min: 250 * time.Millisecond, Max: 8 * time.Second}

// APITimeout bounds one call to the store.
const APITimeout = 10 * time.Second

// Op is what a job asks its runner to do next.
type Op int

// Ops.
const (
	OpRead  Op = iota + 1 // read the record, then call Job.Read
	OpWrite               // write Step.Content, then call Job.Wrote
	OpWait                // wait Step.Wait, then call Job.Waited
	OpDone                // the job is over
)

// Step is one step of a job. Report, if not nil, goes to the node's loop
// (as an event for Next) before the step is carried out.
type Step struct {
	Op      Op
	Content string // OpWrite
	// If is what the record held when the write was decided (OpWrite): a
	// runner whose store is a Swapper writes only if it still holds it.
	If     string
	Wait   time.Duration // OpWait
	Report Event
}

type phase int

const (
	phaseRead        phase = iota // reading to decide
	phaseTie                      // pausing for the preferred node
	phaseTieRead                  // reading again after the pause
	phaseWrite                    // writing
	phaseRetryWait                // backing off after a failure
	phaseConfirm                  // waiting to read again what looked already right
	phaseConfirmRead              // reading again, once
)

// Job is the worker's procedure for one ActEnsure or ActRead: read, judge
// under the write rule, write, retry. It does no I/O and reads no clock: a
// runner carries out its steps (the daemon's worker against the DNS
// provider, the simulator against its model) and feeds back the results,
// so both run the same procedure. A Job is used by one goroutine.
//
// The runner's duties: right before an OpWrite it calls Go with the time
// and the node's latest State.MayWrite, and carries out the step Go
// returns instead (the write, a read again if the decision has gone
// stale, or the end); a cancelled job stops at its next step, except that
// a write under way is carried through and its outcome reported (the node
// must learn of a write that landed).
type Job struct {
	ensure    ActEnsure
	read      ActRead
	isRead    bool
	n         func(int64) int64
	phase     phase
	failures  int
	conflicts int       // conditional writes lost to someone else's write
	confirmed bool      // a read that found the record right was checked again
	paused    string    // what the read before the tie pause found
	asked     time.Time // when the read being judged was asked
	answered  time.Time // and answered
	judged    string    // what it held
	landed    string    // what this job's write left when it landed in part
}

// NewEnsure is the procedure of a, with n as the source of jitter (as
// rand.Int64N).
func NewEnsure(a ActEnsure, n func(int64) int64) *Job { return &Job{ensure: a, n: n} }

// NewRead is the procedure of a.
func NewRead(a ActRead, n func(int64) int64) *Job { return &Job{read: a, isRead: true, n: n} }

// Start is the first step: a read.
func (j *Job) Start() Step { return Step{Op: OpRead} }

// Read takes the result of an OpRead asked at asked and answered at at.
func (j *Job) Read(asked, at time.Time, rec Record, err error) Step {
	j.asked = asked
	if j.isRead {
		switch {
		case errors.Is(err, ErrMissing):
			return Step{Op: OpDone, Report: EvRead{At: at, Asked: asked, Drift: j.read.Drift, Verify: j.read.Verify, Missing: true}}
		case err != nil:
			j.failures++
			rep := EvReadFailed{At: at, Err: "read record: " + err.Error(), Attempt: j.failures, Drift: j.read.Drift}
			if !j.read.Retry {
				return Step{Op: OpDone, Report: rep}
			}
			j.phase = phaseRetryWait
			return Step{Op: OpWait, Wait: j.retryWait(err), Report: rep}
		}
		return Step{Op: OpDone, Report: EvRead{At: at, Asked: asked, Record: rec, Drift: j.read.Drift, Verify: j.read.Verify}}
	}
	if err != nil {
		return j.failed(at, "read record: ", err)
	}
	a := j.ensure
	j.judged, j.answered = rec.Content, at
	v := decide(rec, asked, a)
	if j.phase == phaseTieRead {
		// After the pause: if the preferred node took it meanwhile, it is
		// alive and has it. A takeover's record that held its base all
		// along is as it was when the link was last good: a set may hold
		// the peer's value in one record and a stray one in another since
		// before the loss. (A correction leaves a set the preferred node
		// holds in part: its move, under way.)
		switch {
		case rec.Content == a.Content:
			v = verdictNothing
		case a.Conditional && rec.Content == j.paused && !a.peerWrote(rec, asked):
			v = verdictWrite
		case a.peersOrTouched(rec.Content) && a.Conditional:
			v = verdictWithhold
		case a.peersOrTouched(rec.Content):
			v = verdictNothing
		default:
			v = verdictWrite
		}
	}
	if j.landed != "" && rec.Content == j.landed {
		v = verdictWrite // as this job's own write left it: finish it
	}
	if v == verdictNothing && !j.confirmed && a.mayLandYet(rec, asked) {
		// The peer's failback may be on its way (sent before a crash,
		// say) and land after this read: look once more when it would
		// have.
		j.phase, j.confirmed = phaseConfirm, true
		return Step{Op: OpWait, Wait: StaleReads, Report: EvSeen{At: at, Asked: asked, Record: rec}}
	}
	switch v {
	case verdictYield:
		j.phase, j.paused = phaseTie, rec.Content
		return Step{Op: OpWait, Wait: a.Pause, Report: EvSeen{At: at, Asked: asked, Record: rec}}
	case verdictWrite:
		j.phase = phaseWrite
		return Step{Op: OpWrite, Content: a.Content}
	}
	return j.done(EvDone{At: at, Content: rec.Content, Withheld: v == verdictWithhold})
}

// Wrote takes the result of an OpWrite that ended at at.
func (j *Job) Wrote(at time.Time, err error) Step {
	var pw *PartialWrite
	if errors.Is(err, ErrConflict) && !errors.As(err, &pw) {
		// Someone else wrote since the read: nothing was written. Read
		// again and decide again, never overwrite; a record that keeps
		// changing under the job (an operator's script) waits the
		// backoff from the second time on.
		j.conflicts++
		j.phase = phaseRead
		rep := EvConflict{At: at, Job: j.ensure.Job, Judged: j.judged, Err: err.Error()}
		if j.conflicts == 1 {
			return Step{Op: OpRead, Report: rep}
		}
		return Step{Op: OpWait, Wait: retries.Jittered(j.conflicts-1, j.n), Report: rep}
	}
	if err != nil {
		st := j.failed(at, "write record: ", err)
		if a, ok := st.Report.(EvAttempt); ok {
			switch {
			case errors.As(err, &pw):
				// Known: what landed is this job's own doing, and the
				// retry goes on from it.
				a.Landed, j.landed = pw.Landed, pw.Landed
			default:
				// Only a refusal the store names is known not to have
				// landed.
				a.Uncertain = retryAfter(err) == 0 && !errors.Is(err, ErrRefused)
			}
			st.Report = a
		}
		return st
	}
	return j.done(EvDone{At: at, Content: j.ensure.Content, Changed: true, Replaced: j.judged})
}

// Go is called right before an OpWrite is carried out, at now, with
// permitted, the node's latest State.MayWrite for the content: the write
// goes ahead only on a read answered less than FreshRead ago (a job that
// waited, its process frozen say, reads again), and only if permitted.
func (j *Job) Go(now time.Time, permitted bool) Step {
	switch {
	case !permitted:
		return j.done(EvDone{At: now, Refused: true})
	case now.Sub(j.answered) > FreshRead:
		j.phase = phaseRead
		return Step{Op: OpRead}
	}
	return Step{Op: OpWrite, Content: j.ensure.Content, If: j.judged, Report: EvWriting{At: now, Job: j.ensure.Job, Content: j.ensure.Content}}
}

// Waited follows an OpWait.
func (j *Job) Waited() Step {
	switch j.phase {
	case phaseTie:
		j.phase = phaseTieRead
	case phaseConfirm:
		j.phase = phaseConfirmRead
	default:
		j.phase = phaseRead
	}
	return Step{Op: OpRead}
}

func (j *Job) done(ev EvDone) Step {
	ev.Job, ev.Purpose, ev.Asked = j.ensure.Job, j.ensure.Purpose, j.asked
	return Step{Op: OpDone, Report: ev}
}

func (j *Job) failed(at time.Time, what string, err error) Step {
	if errors.Is(err, ErrMissing) {
		return j.done(EvDone{At: at, Missing: true})
	}
	j.failures++
	j.phase = phaseRetryWait
	return Step{Op: OpWait, Wait: j.retryWait(err), Report: EvAttempt{At: at, Job: j.ensure.Job, Err: what + err.Error()}}
}

// retryWait is the backoff after the job's failures so far, or what the
// store asked for if that is longer.
func (j *Job) retryWait(err error) time.Duration {
	return max(retries.Jittered(j.failures, j.n), retryAfter(err))
}
