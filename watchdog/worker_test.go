package watchdog

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"testing/synctest"

	"github.com/clooster/clooster/internal/failover"
)

// A job whose write report waits on a busy loop asks again before it
// writes: a cancel, or a permission withdrawn, that the loop decided
// meanwhile stops the write, and the job's end is reported.
func TestWorkerAsksAgainAfterReportingTheWrite(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(w *worker, cancel context.CancelFunc)
	}{
		{"cancelled", func(_ *worker, cancel context.CancelFunc) { cancel() }},
		{"permission withdrawn", func(w *worker, _ context.CancelFunc) { w.permit(false, false) }},
		{"unchanged", func(*worker, context.CancelFunc) {}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store := &memStore{content: "srv1"}
				out := make(chan failover.Event) // a loop that has not taken the report yet
				w := &worker{log: slog.New(slog.NewTextHandler(io.Discard, nil)), out: out, met: newMetrics()}
				w.setTarget(store, "srv2")
				w.permit(true, true)
				ctx, stop := context.WithCancel(t.Context())
				defer stop()
				jctx, cancel := context.WithCancel(ctx)
				a := failover.ActEnsure{Job: 7, Purpose: failover.Takeover, Content: "srv2", Own: "srv2", Peer: "srv1", PeerKnown: true}
				done := make(chan struct{})
				go func() { defer close(done); w.run(ctx, jctx, failover.NewEnsure(a, func(int64) int64 { return 0 })) }()

				synctest.Wait() // blocked on the report of the write
				tc.change(w, cancel)
				if ev, ok := (<-out).(failover.EvWriting); !ok || ev.Content != "srv2" {
					t.Fatalf("first report = %#v, want EvWriting of srv2", ev)
				}
				ev := <-out
				<-done
				_, writes := store.get()
				if tc.name == "unchanged" {
					if d, ok := ev.(failover.EvDone); !ok || !d.Changed || len(writes) != 1 {
						t.Fatalf("report %#v, writes %v: want the write done", ev, writes)
					}
					return
				}
				if d, ok := ev.(failover.EvDone); !ok || !d.Refused || d.Job != 7 {
					t.Fatalf("report %#v: want the job's refusal", ev)
				}
				if len(writes) != 0 {
					t.Fatalf("writes %v: want none", writes)
				}
			})
		})
	}
}
