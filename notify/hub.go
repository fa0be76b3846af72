package notify

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Channel is one place alerts go.
type Channel struct {
	Name    string   // how logs, metrics and notify-test name it: "pushbullet", "notify[0]"
	Service string   // "pushbullet", "ntfy", "smtp"...
	Shown   string   // its URL with the secrets redacted, for people
	Events  []string // the events it takes; nil: all
	Sender  Sender
	// Key identifies the channel's configuration (its URL, its
	// credentials) for Hub.Replace, which keeps the queue of a channel
	// whose Key is unchanged; "" matches none. It may hold secrets: it is
	// never shown.
	Key string
}

// takes reports whether the channel takes an alert about events: about
// any of them.
func (c *Channel) takes(events ...string) bool {
	if c.Events == nil {
		return true
	}
	for _, e := range events {
		if slices.Contains(c.Events, e) {
			return true
		}
	}
	return false
}

// Hub sends each alert to every channel that takes its event, each channel
// through a Queue of its own: a slow or dead channel delays no other, and
// never the caller. Create it with NewHub; Notify and Replace from
// anywhere; Run in one goroutine, which runs a goroutine per channel and
// waits for them.
type Hub struct {
	log *slog.Logger

	mu      sync.Mutex
	chans   []Channel
	queues  []*Queue
	retired []*Queue        // queues of channels Replace took out, not yet run
	ctx     context.Context // Run's; nil before Run
	stopped bool            // Run's ctx has ended
	wg      sync.WaitGroup  // the queues' goroutines
}

// NewHub returns a hub over chans, logging to logger with each channel's
// name and service.
func NewHub(chans []Channel, logger *slog.Logger) *Hub {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &Hub{log: logger, chans: slices.Clone(chans)}
	for _, c := range h.chans {
		h.queues = append(h.queues, h.newQueue(c))
	}
	return h
}

func (h *Hub) newQueue(c Channel) *Queue {
	return NewQueue(c.Sender, h.log.With("channel", c.Name, "service", c.Service))
}

// Notify queues an alert about events on every channel that takes one of
// them, and returns at once.
func (h *Hub) Notify(events []string, title, body string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range h.chans {
		if h.chans[i].takes(events...) {
			h.queues[i].Notify(title, body)
		}
	}
}

// Replace makes chans the hub's channels, for the alerts notified from
// now on. A channel whose Key was a channel's before keeps its queue,
// with what waits in it (its name and events are the new ones); a new
// channel gets a queue of its own; the queue of a channel taken out
// delivers what waits in it, as it would have, then stops. Nothing queued
// is lost.
func (h *Hub) Replace(chans []Channel) {
	h.mu.Lock()
	defer h.mu.Unlock()
	old := map[string]*Queue{}
	for i, c := range h.chans {
		if c.Key != "" {
			old[c.Key] = h.queues[i]
		}
	}
	kept := map[*Queue]bool{}
	var queues []*Queue
	for _, c := range chans {
		q, ok := old[c.Key]
		if !ok || c.Key == "" || kept[q] {
			q = h.newQueue(c)
			h.start(q)
		}
		kept[q] = true
		queues = append(queues, q)
	}
	for _, q := range h.queues {
		if !kept[q] {
			q.retire()
			if h.ctx == nil {
				h.retired = append(h.retired, q)
			}
		}
	}
	h.chans, h.queues = slices.Clone(chans), queues
}

// start runs q if the hub runs; h.mu is held.
func (h *Hub) start(q *Queue) {
	if h.ctx == nil || h.stopped {
		return
	}
	h.wg.Go(func() { q.Run(h.ctx) })
}

// Run sends until ctx ends, then lets every queue flush (about a second)
// and returns nil.
func (h *Hub) Run(ctx context.Context) error {
	h.mu.Lock()
	h.ctx = ctx
	for _, q := range append(h.queues, h.retired...) {
		h.start(q)
	}
	h.retired = nil
	h.mu.Unlock()
	<-ctx.Done()
	h.mu.Lock()
	h.stopped = true
	h.mu.Unlock()
	h.wg.Wait()
	return nil
}

// ChannelStats is what one channel's queue did.
type ChannelStats struct {
	Name, Service string
	Stats
}

// Stats returns each channel's counters, in the channels' order.
func (h *Hub) Stats() []ChannelStats {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]ChannelStats, len(h.chans))
	for i, c := range h.chans {
		out[i] = ChannelStats{Name: c.Name, Service: c.Service, Stats: h.queues[i].Stats()}
	}
	return out
}

// Result is what one channel made of a test message.
type Result struct {
	Channel
	Skipped bool          // its events leave out the event
	Err     error         // nil: delivered
	Took    time.Duration // how long the attempt took
	Detail  string        // what the service said of a delivery, if anything
}

// Test sends title and body to every channel that takes event, all at once,
// in one attempt each bounded by ctx, and returns each channel's result in
// the channels' order. The queues are not used.
func Test(ctx context.Context, chans []Channel, event, title, body string) []Result {
	out := make([]Result, len(chans))
	var wg sync.WaitGroup
	for i, c := range chans {
		out[i].Channel = c
		if !c.takes(event) {
			out[i].Skipped = true
			continue
		}
		wg.Go(func() {
			start := time.Now()
			ctx := withGUID(ctx, newGUID())
			if pb, ok := c.Sender.(*Pushbullet); ok {
				var rc *Receipt
				if rc, out[i].Err = pb.Send(ctx, title, body); rc != nil {
					out[i].Detail = "push " + rc.Iden + " at " + rc.Created.Format(time.RFC3339)
					if rc.ReceiverEmail != "" {
						out[i].Detail += " to " + rc.ReceiverEmail
					}
				}
			} else {
				out[i].Err = c.Sender.Push(ctx, title, body)
			}
			out[i].Took = time.Since(start)
		})
	}
	wg.Wait()
	return out
}
