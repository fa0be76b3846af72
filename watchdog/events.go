package watchdog

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/clooster/clooster/internal/failover"
)

// EventsKept is how many transitions a node keeps for /events.
const EventsKept = 100

// Event is one transition of the node (link, peer, record, health, guard,
// drift...), as its log line says it, for /events and the status page.
type Event struct {
	At    time.Time         `json:"at"`
	Name  string            `json:"event"` // the log line's stable event name
	Level string            `json:"level"` // INFO, WARN or ERROR
	Msg   string            `json:"message"`
	Attrs map[string]string `json:"attrs,omitempty"`
}

// eventLog keeps the last EventsKept events. It is safe for concurrent use.
type eventLog struct {
	mu   sync.Mutex
	ring [EventsKept]Event
	n    int // events ever added
}

// add keeps the transition a logged at at; debug lines are not transitions.
func (l *eventLog) add(at time.Time, a failover.ActLog) {
	if a.Level < slog.LevelInfo {
		return
	}
	e := Event{At: at, Name: a.Event, Level: a.Level.String(), Msg: a.Msg}
	for i := 0; i+1 < len(a.Attrs); i += 2 {
		if e.Attrs == nil {
			e.Attrs = make(map[string]string, len(a.Attrs)/2)
		}
		e.Attrs[fmt.Sprint(a.Attrs[i])] = fmt.Sprint(a.Attrs[i+1])
	}
	l.mu.Lock()
	l.ring[l.n%EventsKept] = e
	l.n++
	l.mu.Unlock()
}

// list returns the kept events, newest first.
func (l *eventLog) list() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := min(l.n, EventsKept)
	out := make([]Event, 0, k)
	for i := 1; i <= k; i++ {
		out = append(out, l.ring[(l.n-i)%EventsKept])
	}
	return out
}

// Events returns the node's last transitions, newest first, at most
// EventsKept.
func (n *Node) Events() []Event { return n.events.list() }
