package failover

import (
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
	Content string        // OpWrite
	Wait    time.Duration // OpWait
	Report  Event
}

type phase int

const (
	phaseRead      phase = iota // reading to decide
	phaseTie                    // pausing for the preferred node
	phaseTieRead                // reading again after the pause
	phaseWrite                  // writing
	phaseRetryWait              // backing off after a failure
)

// Job is the worker's procedure for one ActEnsure or ActRead: read, judge
// under the write rule, write, retry. It does no I/O and reads no clock: a
// runner carries out its steps (the daemon's worker against the DNS
// provider, the simulator against its model) and feeds back the results,
// so both run the same procedure. A Job is used by one goroutine.
type Job struct {
	ensure   ActEnsure
	read     ActRead
	isRead   bool
	n        func(int64) int64
	phase    phase
	failures int
}

// NewEnsure is the procedure of a, with n as the source of jitter (as
// rand.Int64N).
func NewEnsure(a ActEnsure, n func(int64) int64) *Job { return &Job{ensure: a, n: n} }

// NewRead is the procedure of a.
func NewRead(a ActRead, n func(int64) int64) *Job { return &Job{read: a, isRead: true, n: n} }

// Start is the first step: a read.
func (j *Job) Start() Step { return Step{Op: OpRead} }

// Read takes the result of an OpRead made at at.
func (j *Job) Read(at time.Time, rec Record, err error) Step {
	if j.isRead {
		if err != nil {
			j.failures++
			rep := EvReadFailed{At: at, Err: "read record: " + err.Error(), Attempt: j.failures, Drift: j.read.Drift}
			if !j.read.Retry {
				return Step{Op: OpDone, Report: rep}
			}
			j.phase = phaseRetryWait
			return Step{Op: OpWait, Wait: j.retryWait(err), Report: rep}
		}
		return Step{Op: OpDone, Report: EvRead{At: at, Record: rec, Drift: j.read.Drift}}
	}
	if err != nil {
		return j.failed(at, "read record: "+err.Error(), err)
	}
	a := j.ensure
	v := decide(rec, a)
	if j.phase == phaseTieRead {
		// What it held after the pause is the base now.
		a.Base, a.Yield = rec.Content, false
		if v = decide(rec, a); v == VerdictWrite && rec.Content == a.Peer {
			v = VerdictWithhold // the preferred node took it meanwhile
		}
	}
	switch v {
	case VerdictYield:
		j.phase = phaseTie
		return Step{Op: OpWait, Wait: TieDelay}
	case VerdictWrite:
		j.phase = phaseWrite
		return Step{Op: OpWrite, Content: a.Content}
	}
	return Step{Op: OpDone, Report: EvDone{At: at, Job: a.Job, Content: rec.Content, Withheld: v == VerdictWithhold}}
}

// Wrote takes the result of an OpWrite that ended at at.
func (j *Job) Wrote(at time.Time, err error) Step {
	if err != nil {
		return j.failed(at, "write record: "+err.Error(), err)
	}
	return Step{Op: OpDone, Report: EvDone{At: at, Job: j.ensure.Job, Content: j.ensure.Content, Changed: true}}
}

// Waited follows an OpWait.
func (j *Job) Waited() Step {
	if j.phase == phaseTie {
		j.phase = phaseTieRead
	} else {
		j.phase = phaseRead
	}
	return Step{Op: OpRead}
}

func (j *Job) failed(at time.Time, msg string, err error) Step {
	j.failures++
	j.phase = phaseRetryWait
	return Step{Op: OpWait, Wait: j.retryWait(err), Report: EvAttempt{At: at, Job: j.ensure.Job, Err: msg}}
}

// retryWait is the backoff after the job's failures so far, or what the
// store asked for if that is longer.
func (j *Job) retryWait(err error) time.Duration {
	return max(retries.Jittered(j.failures, j.n), retryAfter(err))
}
