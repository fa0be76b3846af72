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
// never the caller. Create it with NewHub; Notify from anywhere; Run in one
// goroutine, which runs a goroutine per channel and waits for them.
type Hub struct {
	chans  []Channel
	queues []*Queue
}

// NewHub returns a hub over chans, logging to logger with each channel's
// name and service.
func NewHub(chans []Channel, logger *slog.Logger) *Hub {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &Hub{chans: slices.Clone(chans)}
	for _, c := range h.chans {
		h.queues = append(h.queues, NewQueue(c.Sender, logger.With("channel", c.Name, "service", c.Service)))
	}
	return h
}

// Notify queues an alert about events on every channel that takes one of
// them, and returns at once.
func (h *Hub) Notify(events []string, title, body string) {
	for i := range h.chans {
		if h.chans[i].takes(events...) {
			h.queues[i].Notify(title, body)
		}
	}
}

// Run sends until ctx ends, then lets every queue flush (about a second)
// and returns nil.
func (h *Hub) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, q := range h.queues {
		wg.Go(func() { q.Run(ctx) })
	}
	wg.Wait()
	return nil
}

// ChannelStats is what one channel's queue did.
type ChannelStats struct {
	Name, Service string
	Stats
}

// Stats returns each channel's counters, in the channels' order.
func (h *Hub) Stats() []ChannelStats {
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
