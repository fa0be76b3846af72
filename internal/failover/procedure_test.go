package failover

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"
)

// trace carries out a job against a scripted store: reads answer from
// reads in order, writes fail with writeErrs in order (then succeed), each
// call takes 100 ms, and a permit says whether writes are allowed. It
// returns the steps and the reports, briefly.
type script struct {
	reads     []Record
	readErrs  []error
	writeErrs []error
	permit    func(content string) bool
	goAfter   time.Duration // between the read's answer and the write
}

func (sc script) run(j *Job) []string {
	now := t0
	var out []string
	report := func(st Step) {
		if st.Report != nil {
			switch r := st.Report.(type) {
			case EvDone:
				out = append(out, fmt.Sprintf("done %q changed=%v withheld=%v missing=%v refused=%v", r.Content, r.Changed, r.Withheld, r.Missing, r.Refused))
			case EvAttempt:
				out = append(out, fmt.Sprintf("attempt %q uncertain=%v", r.Err, r.Uncertain))
			case EvRead:
				out = append(out, fmt.Sprintf("read %q missing=%v", r.Record.Content, r.Missing))
			case EvReadFailed:
				out = append(out, fmt.Sprintf("read failed %q #%d", r.Err, r.Attempt))
			case EvWriting:
				out = append(out, "writing "+r.Content)
			case EvConflict:
				out = append(out, fmt.Sprintf("conflict over %q", r.Judged))
			}
		}
	}
	st := j.Start()
	for range 50 {
		report(st)
		switch st.Op {
		case OpRead:
			asked := now
			now = now.Add(100 * ms)
			var rec Record
			var err error
			if len(sc.readErrs) > 0 {
				err, sc.readErrs = sc.readErrs[0], sc.readErrs[1:]
			}
			if err == nil && len(sc.reads) > 0 {
				rec, sc.reads = sc.reads[0], sc.reads[1:]
			}
			out = append(out, "READ")
			st = j.Read(asked, now, rec, err)
		case OpWrite:
			now = now.Add(sc.goAfter)
			permitted := sc.permit == nil || sc.permit(st.Content)
			if st = j.Go(now, permitted); st.Op != OpWrite {
				continue
			}
			report(st)
			now = now.Add(100 * ms)
			var err error
			if len(sc.writeErrs) > 0 {
				err, sc.writeErrs = sc.writeErrs[0], sc.writeErrs[1:]
			}
			if st.If != "" {
				out = append(out, fmt.Sprintf("WRITE %s IF %s", st.Content, st.If))
			} else {
				out = append(out, "WRITE "+st.Content)
			}
			st = j.Wrote(now, err)
		case OpWait:
			out = append(out, fmt.Sprintf("WAIT %s", st.Wait))
			now = now.Add(st.Wait)
			st = j.Waited()
		case OpDone:
			return out
		}
	}
	return append(out, "(no end)")
}

func lowest(int64) int64 { return 0 } // the shortest backoff, for stable tests

var takeover = ActEnsure{Job: 1, Purpose: Takeover, Content: "srv2", Own: "srv2", Peer: "srv1", PeerKnown: true,
	Conditional: true, Base: "srv1", Since: t0.Add(-time.Minute), Pause: 7 * sec}

// setTie is the takeover of a set of two records by the node that is not
// preferred, from a base that held a stray value in one record and the
// peer's in the other.
var setTie = ActEnsure{Job: 1, Purpose: Takeover, Content: "a2, b2", Own: "a2, b2", Peer: "a1, b1", PeerKnown: true,
	Conditional: true, Base: "stray, b1", Since: t0.Add(-time.Minute), Pause: 7 * sec, Yield: true}

func TestJob(t *testing.T) {
	errAPI := errors.New("503")
	tests := []struct {
		name string
		a    ActEnsure
		sc   script
		want []string
	}{
		{"read, then write", takeover, script{reads: []Record{{Content: "srv1"}}},
			[]string{"READ", "writing srv2", "WRITE srv2 IF srv1", `done "srv2" changed=true withheld=false missing=false refused=false`}},
		{"already right: one read", takeover, script{reads: []Record{{Content: "srv2"}}},
			[]string{"READ", `done "srv2" changed=false withheld=false missing=false refused=false`}},
		{"the peer took it: withhold", mod(takeover, func(a *ActEnsure) { a.Base = "elsewhere" }), script{reads: []Record{{Content: "srv1"}}},
			[]string{"READ", `done "srv1" changed=false withheld=true missing=false refused=false`}},
		{"a failed read: backoff and read again", takeover, script{readErrs: []error{errAPI, errAPI}, reads: []Record{{Content: "srv1"}}},
			[]string{"READ", `attempt "read record: 503" uncertain=false`, "WAIT 125ms", "READ", `attempt "read record: 503" uncertain=false`, "WAIT 250ms",
				"READ", "writing srv2", "WRITE srv2 IF srv1", `done "srv2" changed=true withheld=false missing=false refused=false`}},
		{"a write without an answer may have landed: uncertain", takeover, script{reads: []Record{{Content: "srv1"}, {Content: "srv2"}}, writeErrs: []error{errAPI}},
			[]string{"READ", "writing srv2", "WRITE srv2 IF srv1", `attempt "write record: 503" uncertain=true`, "WAIT 125ms", "READ",
				`done "srv2" changed=false withheld=false missing=false refused=false`}},
		{"a 429: the Retry-After, longer than the backoff, and the write is known not to have landed", takeover,
			script{reads: []Record{{Content: "srv1"}, {Content: "srv1"}}, writeErrs: []error{&RetryLater{After: 3 * sec, Err: errAPI}}},
			[]string{"READ", "writing srv2", "WRITE srv2 IF srv1", `attempt "write record: 503 (retry after 3s)" uncertain=false`, "WAIT 3s", "READ", "writing srv2", "WRITE srv2 IF srv1",
				`done "srv2" changed=true withheld=false missing=false refused=false`}},
		{"already right, read within the owner's failback window: looked at once more, and right", mod(takeover, func(a *ActEnsure) {
			a.AlsoBase, a.AlsoFrom, a.AlsoUntil = "srv1", t0.Add(-sec), t0.Add(10*sec)
		}), script{reads: []Record{{Content: "srv2"}, {Content: "srv2"}, {Content: "srv2"}}},
			[]string{"READ", "WAIT 1s", "READ", `done "srv2" changed=false withheld=false missing=false refused=false`}},
		{"already right, read within the owner's failback window: the failback landed since, so take it back", mod(takeover, func(a *ActEnsure) {
			a.AlsoBase, a.AlsoFrom, a.AlsoUntil, a.AlsoAnnounced = "srv1", t0.Add(-sec), t0.Add(10*sec), true
		}), script{reads: []Record{{Content: "srv2"}, {Content: "srv1"}}},
			[]string{"READ", "WAIT 1s", "READ", "writing srv2", "WRITE srv2 IF srv1", `done "srv2" changed=true withheld=false missing=false refused=false`}},
		{"already right, read after the owner's failback window: one read", mod(takeover, func(a *ActEnsure) {
			a.AlsoBase, a.AlsoFrom, a.AlsoUntil = "srv1", t0.Add(-11*sec), t0.Add(-sec)
		}), script{reads: []Record{{Content: "srv2"}}},
			[]string{"READ", `done "srv2" changed=false withheld=false missing=false refused=false`}},
		{"already right, read at the window's last moment: looked at once more", mod(takeover, func(a *ActEnsure) {
			a.AlsoBase, a.AlsoFrom, a.AlsoUntil = "srv1", t0.Add(-10*sec), t0
		}), script{reads: []Record{{Content: "srv2"}, {Content: "srv2"}}},
			[]string{"READ", "WAIT 1s", "READ", `done "srv2" changed=false withheld=false missing=false refused=false`}},
		{"a correction that finds this node's value in the window: one read", mod(takeover, func(a *ActEnsure) {
			a.Purpose, a.AlsoBase, a.AlsoFrom, a.AlsoUntil = Correction, "srv1", t0.Add(-sec), t0.Add(10*sec)
		}), script{reads: []Record{{Content: "srv2"}}},
			[]string{"READ", `done "srv2" changed=false withheld=false missing=false refused=false`}},
		{"the owner's failback value is this node's own: one read", mod(takeover, func(a *ActEnsure) {
			a.AlsoBase, a.AlsoFrom, a.AlsoUntil = "srv2", t0.Add(-sec), t0.Add(10*sec)
		}), script{reads: []Record{{Content: "srv2"}}},
			[]string{"READ", `done "srv2" changed=false withheld=false missing=false refused=false`}},
		{"a missing record: no retries", takeover, script{readErrs: []error{fmt.Errorf("find record: %w", ErrMissing)}},
			[]string{"READ", `done "" changed=false withheld=false missing=true refused=false`}},
		{"not permitted at write time: refused", takeover, script{reads: []Record{{Content: "srv1"}}, permit: func(string) bool { return false }},
			[]string{"READ", `done "" changed=false withheld=false missing=false refused=true`}},
		{"a decision gone stale before the write (a freeze): read again", takeover, script{reads: []Record{{Content: "srv1"}, {Content: "srv2"}}, goAfter: 2 * sec},
			[]string{"READ", "READ", `done "srv2" changed=false withheld=false missing=false refused=false`}},
		{"a tie: the node that is not preferred pauses, reads again, and finds the preferred node took it", mod(takeover, func(a *ActEnsure) { a.Yield = true }),
			script{reads: []Record{{Content: "elsewhere"}, {Content: "srv1"}}},
			[]string{"READ", "WAIT 7s", "READ", `done "srv1" changed=false withheld=true missing=false refused=false`}},
		{"a tie over a set that held the peer's value in one record all along: unchanged over the pause, take it", setTie,
			script{reads: []Record{{Content: "stray, b1"}, {Content: "stray, b1"}}},
			[]string{"READ", "WAIT 7s", "READ", "writing a2, b2", "WRITE a2, b2 IF stray, b1", `done "a2, b2" changed=true withheld=false missing=false refused=false`}},
		{"a set the peer held, one record edited away from it around the loss: no write of the peer's, a tie", mod(setTie, func(a *ActEnsure) { a.Base = "a1, b1" }),
			script{reads: []Record{{Content: "stray, b1"}, {Content: "stray, b1"}}},
			[]string{"READ", "WAIT 7s", "READ", "writing a2, b2", "WRITE a2, b2 IF stray, b1", `done "a2, b2" changed=true withheld=false missing=false refused=false`}},
		{"a set the peer moved in part since the base: its write, withheld", mod(setTie, func(a *ActEnsure) { a.Base = "stray, b2" }),
			script{reads: []Record{{Content: "stray, b1"}}},
			[]string{"READ", `done "stray, b1" changed=false withheld=true missing=false refused=false`}},
		{"a tie over a set: the preferred node moved it during the pause", setTie,
			script{reads: []Record{{Content: "stray, b1"}, {Content: "a1, b1"}}},
			[]string{"READ", "WAIT 7s", "READ", `done "a1, b1" changed=false withheld=true missing=false refused=false`}},
		{"a tie: still neither's after the pause: take it", mod(takeover, func(a *ActEnsure) { a.Yield = true }),
			script{reads: []Record{{Content: "elsewhere"}, {Content: "elsewhere"}}},
			[]string{"READ", "WAIT 7s", "READ", "writing srv2", "WRITE srv2 IF elsewhere", `done "srv2" changed=true withheld=false missing=false refused=false`}},
		{"a conditional write lost to the peer's: read again, and withhold", takeover,
			script{reads: []Record{{Content: "srv1"}, {Content: "srv1"}}, writeErrs: []error{fmt.Errorf("update: NXRRSET (%w)", ErrConflict)}},
			[]string{"READ", "writing srv2", "WRITE srv2 IF srv1", `conflict over "srv1"`, "READ", "writing srv2", "WRITE srv2 IF srv1",
				`done "srv2" changed=true withheld=false missing=false refused=false`}},
		{"a conditional write lost to a write of the peer's value after the base: withhold", mod(takeover, func(a *ActEnsure) { a.Base = "elsewhere" }),
			script{reads: []Record{{Content: "elsewhere"}, {Content: "srv1"}}, writeErrs: []error{fmt.Errorf("update: NXRRSET (%w)", ErrConflict)}},
			[]string{"READ", "writing srv2", "WRITE srv2 IF elsewhere", `conflict over "elsewhere"`, "READ",
				`done "srv1" changed=false withheld=true missing=false refused=false`}},
		{"a set's write landed in part, read back as it left it: finished at once, no second tie pause", setTie,
			script{reads: []Record{{Content: "stray, b1"}, {Content: "stray, b1"}, {Content: "a2, b1"}},
				writeErrs: []error{&PartialWrite{Landed: "a2, b1", Err: ErrRefused}}},
			[]string{"READ", "WAIT 7s", "READ", "writing a2, b2", "WRITE a2, b2 IF stray, b1", `attempt "write record: write refused" uncertain=false`,
				"WAIT 125ms", "READ", "writing a2, b2", "WRITE a2, b2 IF a2, b1", `done "a2, b2" changed=true withheld=false missing=false refused=false`}},
		{"a record that keeps changing under the job: the backoff from the second loss", takeover,
			script{reads: []Record{{Content: "srv1"}, {Content: "srv1"}, {Content: "srv1"}},
				writeErrs: []error{fmt.Errorf("a: %w", ErrConflict), fmt.Errorf("b: %w", ErrConflict)}},
			[]string{"READ", "writing srv2", "WRITE srv2 IF srv1", `conflict over "srv1"`, "READ", "writing srv2", "WRITE srv2 IF srv1", `conflict over "srv1"`,
				"WAIT 125ms", "READ", "writing srv2", "WRITE srv2 IF srv1", `done "srv2" changed=true withheld=false missing=false refused=false`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.sc.run(NewEnsure(tt.a, lowest)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("\ngot  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func mod(a ActEnsure, f func(*ActEnsure)) ActEnsure { f(&a); return a }

func TestJobReads(t *testing.T) {
	errAPI := errors.New("503")
	tests := []struct {
		name string
		a    ActRead
		sc   script
		want []string
	}{
		{"the lookup retries until it reads", ActRead{Retry: true}, script{readErrs: []error{errAPI}, reads: []Record{{Content: "srv1"}}},
			[]string{"READ", `read failed "read record: 503" #1`, "WAIT 125ms", "READ", `read "srv1" missing=false`}},
		{"a drift check tries once", ActRead{Drift: true}, script{readErrs: []error{errAPI}},
			[]string{"READ", `read failed "read record: 503" #1`}},
		{"a missing record is an answer, not a failure", ActRead{Retry: true}, script{readErrs: []error{ErrMissing}},
			[]string{"READ", `read "" missing=true`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.sc.run(NewRead(tt.a, lowest)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("\ngot  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestOnOurClock(t *testing.T) {
	local := t0
	// The API's clock runs 10 s ahead; the record changed 3 s before its
	// answer, by that clock.
	apiNow := local.Add(10 * sec)
	if got, want := OnOurClock(apiNow.Add(-3*sec), apiNow, local), local.Add(-3*sec); !got.Equal(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if !OnOurClock(time.Time{}, apiNow, local).IsZero() || !OnOurClock(apiNow, time.Time{}, local).IsZero() {
		t.Error("an unknown stamp or clock is unknown")
	}
}
