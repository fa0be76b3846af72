package main

// This file turns a quorum member's events into alerts and hooks.

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/clooster/clooster/config"
	"github.com/clooster/clooster/internal/failover"
	"github.com/clooster/clooster/internal/hooks"
	"github.com/clooster/clooster/internal/logtext"
	"github.com/clooster/clooster/quorum"
)

// movedWait gathers the records one leader moves at once into one alert.
const movedWait = time.Second

// notifier is where alerts go (the notify hub).
type notifier interface {
	Notify(events []string, title, body string)
}

// firer runs hooks (the hooks runner).
type firer interface {
	Fire(event string, env map[string]string)
}

// hookRecord is one record as the hooks' environment names it.
type hookRecord struct{ name, typ, value string }

// clusterAlerts is a member's quorum.EventSink: each event the node raises
// becomes at most one alert, and becoming or ceasing to be the writing
// leader runs on_active or on_standby. The records one leader moves
// within movedWait make one alert. Event is called one at a time; flush
// may be called from any goroutine.
type clusterAlerts struct {
	self    quorum.Member
	members int
	records []hookRecord // this node's values; none for a witness
	hub     notifier
	hooks   firer
	scrub   func(string) string
	// afterFunc is time.AfterFunc; tests replace it.
	afterFunc func(time.Duration, func()) *time.Timer

	mu        sync.Mutex
	leader    string // as last learned; "" for none
	lastOther string // the last leader known that was not this member
	from      string // the leader before this member's leadership
	active    bool   // this node leads, and so writes
	moved     []string
	movedTerm uint64
	timer     *time.Timer
	// refusedAt: when each member's refusal of this member's key was last
	// said.
	refusedAt map[string]time.Time
}

// keyRefusedEvery is how often a member that keeps refusing this member's
// key is said again.
const keyRefusedEvery = time.Hour

func newClusterAlerts(cfg *config.Config, hub notifier, h firer, scrub func(string) string) *clusterAlerts {
	a := &clusterAlerts{self: cfg.Self(), members: len(cfg.Members()), hub: hub, hooks: h, scrub: scrub, afterFunc: time.AfterFunc}
	if !cfg.Witness() {
		for _, r := range cfg.RecordSet() {
			a.records = append(a.records, hookRecord{name: r.Name, typ: r.Type, value: r.Values[cfg.ThisServer]})
		}
	}
	return a
}

// Event implements quorum.EventSink.
func (a *clusterAlerts) Event(e quorum.Event) {
	a.mu.Lock()
	defer a.mu.Unlock()
	name := a.self.Name
	switch e.Kind {
	case quorum.EventLeaderChanged:
		if e.Leader == name && a.leader != name {
			a.from = a.lastOther
		}
		a.leader = e.Leader
		if e.Leader != "" && e.Leader != name {
			a.lastOther = e.Leader
		}
		leads := e.Leader == name && a.self.Role == quorum.RoleNode
		if leads && !a.active {
			a.active = true
			a.fire(hooks.OnActive, e.Term, a.from)
		} else if !leads && a.active {
			a.active = false
			a.fire(hooks.OnStandby, e.Term, e.Leader)
		}
	case quorum.EventRecordMoved:
		if a.timer != nil && a.movedTerm != e.Term {
			a.timer.Stop()
			a.sendMovedLocked()
		}
		a.moved = append(a.moved, e.Record+" → "+e.Content)
		a.movedTerm = e.Term
		if a.timer == nil {
			a.timer = a.afterFunc(movedWait, a.flush)
		}
	case quorum.EventWriteFailed:
		a.notify(failover.AlertFailed, fmt.Sprintf("[%s] %s not moved", name, e.Record),
			fmt.Sprintf("As the cluster's leader (term %d), %s could not set %s to %s: %v.\n\n"+
				"It tries again with backoff; this alert comes again only after a success.", e.Term, name, e.Record, e.Content, e.Err))
	case quorum.EventNoEligibleNode:
		why := "its own health check fails"
		if a.self.Role == quorum.RoleWitness {
			why = "it is the witness, which never writes DNS"
		}
		a.notify(failover.AlertWithheld, fmt.Sprintf("[%s] No node can take over", name),
			fmt.Sprintf("%s leads the cluster (term %d), but %s, and no node member is healthy, reachable and up to date "+
				"to hand leadership to. It keeps leading and writes nothing: the records stay as they are.\n\n"+
				"What to do: check that the nodes run (clooster status on each), that their health checks pass, "+
				"and that they reach this member at %s.", name, e.Term, why, a.self.Address))
	case quorum.EventQuorumLost:
		voters := logtext.Count(a.members, "member")
		if e.Voters > 0 {
			voters = logtext.Count(e.Voters, "voter")
		}
		a.notify(failover.AlertQuorum, fmt.Sprintf("[%s] Quorum lost", name),
			fmt.Sprintf("%s no longer hears from a majority of the cluster's %s (term %d): it writes no DNS until it does. "+
				"If a majority of the others still hear from each other, they elect a leader that does.\n\n"+
				"What to do: check that the members run and reach each other at their cluster.nodes addresses. "+
				"If the members it lost are gone for good, `clooster cluster recover -force` on this member, stopped, "+
				"makes it the only voter; every other member must then stay stopped (README, \"What operators must know\").",
				name, voters, e.Term))
	case quorum.EventHandedOver:
		a.notify(failover.AlertHealth, fmt.Sprintf("[%s] Service unhealthy: leadership handed to %s", name, e.Member.Name),
			fmt.Sprintf("%s led the cluster (term %d), but its own health check fails: it handed leadership to %s, "+
				"healthy, which moves the records to its values.%s", name, e.Term, e.Member.Name, comesBack(a.self, e.Member)))
	case quorum.EventMemberLost:
		a.notify(failover.AlertQuorum, fmt.Sprintf("[%s] %s %s not answering", name, e.Member.Role, e.Member.Name),
			fmt.Sprintf("%s leads the cluster (term %d) and has had no answer from the %s %s at %s for thirty heartbeat timeouts. %s\n\n"+
				"What to do: check that %s runs and reaches this member.", name, e.Term, e.Member.Role, e.Member.Name, e.Member.Address,
				margin(e.Answering, e.Voters), e.Member.Name))
	case quorum.EventMemberBack:
		a.notify(failover.AlertQuorum, fmt.Sprintf("[%s] %s %s answers again", name, e.Member.Role, e.Member.Name),
			fmt.Sprintf("%s leads the cluster (term %d) and hears from the %s %s again. %s", name, e.Term, e.Member.Role, e.Member.Name,
				margin(e.Answering, e.Voters)))
	case quorum.EventQuorumRegained:
		leader := "no leader yet"
		if a.leader != "" {
			leader = "leader " + a.leader
		}
		a.notify(failover.AlertQuorum, fmt.Sprintf("[%s] Quorum regained", name),
			fmt.Sprintf("%s hears from a majority of the cluster again (term %d, %s).", name, e.Term, leader))
	}
}

// comesBack says whether leadership returns to self, which handed it to
// to: it does if self has the better priority (lower; ties to the name).
func comesBack(self, to quorum.Member) string {
	if self.Priority < to.Priority || self.Priority == to.Priority && self.Name < to.Name {
		return fmt.Sprintf(" Leadership comes back to %s once it has been healthy for failback_delay.", self.Name)
	}
	return ""
}

// margin says how many more members the cluster can lose and still fail
// over on its own, answering of voters answering the leader.
func margin(answering, voters int) string {
	spare := answering - (voters/2 + 1)
	lead := fmt.Sprintf("%d of the %s answer.", answering, logtext.Count(voters, "voter"))
	switch {
	case spare < 0:
		return lead + " That is no majority: no leader can write until more answer."
	case spare == 0:
		return lead + " One more member lost and no member can lead: the records stay where they are, " +
			"whatever fails next, until a member is back (README, \"What operators must know\")."
	}
	return lead + fmt.Sprintf(" The cluster can lose %s more and still fail over on its own.", logtext.Count(spare, "member"))
}

// keyRefused is the transport's word that member m refused this member's
// proof of the key at a dial: their keys differ. Said at once, then again
// at most every keyRefusedEvery while it lasts.
func (a *clusterAlerts) keyRefused(m quorum.Member) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	if at, ok := a.refusedAt[m.Name]; ok && now.Sub(at) < keyRefusedEvery {
		return
	}
	if a.refusedAt == nil {
		a.refusedAt = map[string]time.Time{}
	}
	a.refusedAt[m.Name] = now
	name := a.self.Name
	a.notify(failover.AlertMismatch, fmt.Sprintf("[%s] '%s' answers, but our keys differ", name, m.Name),
		fmt.Sprintf("%s refused the proof of the shared key that %s sent it at %s: the two members' key settings differ "+
			"(key, key_file or CLOOSTER_KEY). Until they agree the two cannot talk, and the cluster counts %s as lost.\n\n"+
			"What to do: give every member the same key (`clooster check a.json b.json` compares two files) and restart the one that was wrong.",
			m.Name, name, m.Address, m.Name))
}

// flush sends the alert of the records moved and not yet told, if any.
func (a *clusterAlerts) flush() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.timer != nil {
		a.timer.Stop()
	}
	a.sendMovedLocked()
}

func (a *clusterAlerts) sendMovedLocked() {
	a.timer = nil
	if len(a.moved) == 0 {
		return
	}
	moved := a.moved
	a.moved = nil
	name := a.self.Name
	title := fmt.Sprintf("[%s] %s moved here", name, strings.SplitN(moved[0], " → ", 2)[0])
	if len(moved) > 1 {
		title = fmt.Sprintf("[%s] %s moved here", name, logtext.Count(len(moved), "record"))
	}
	before := "No other member has led since this one started."
	if a.from != "" {
		before = "Before, " + a.from + " led."
	}
	body := fmt.Sprintf("%s leads the cluster (term %d) and moved to its values:\n%s\n\n%s",
		name, a.movedTerm, strings.Join(moved, "\n"), before)
	a.notify(failover.AlertDown, title, body)
}

func (a *clusterAlerts) notify(event, title, body string) {
	if a.scrub != nil {
		body = a.scrub(body)
	}
	a.hub.Notify([]string{event}, title, body)
}

// fire runs hook event with the hooks' environment: the pair's variables
// (CLOOSTER_PEER is the other leader: the one before for on_active, the
// one after for on_standby) and CLOOSTER_TERM.
func (a *clusterAlerts) fire(event string, term uint64, other string) {
	if a.hooks == nil {
		return
	}
	env := map[string]string{
		"CLOOSTER_EVENT": event,
		"CLOOSTER_NODE":  a.self.Name,
		"CLOOSTER_PEER":  other,
		"CLOOSTER_TERM":  strconv.FormatUint(term, 10),
	}
	var lines []string
	for _, r := range a.records {
		lines = append(lines, strings.TrimSpace(r.name+" "+r.typ+" "+r.value))
	}
	if len(a.records) > 0 {
		env["CLOOSTER_RECORD"], env["CLOOSTER_CONTENT"] = a.records[0].name, a.records[0].value
	}
	env["CLOOSTER_RECORDS"] = strings.Join(lines, "\n")
	a.hooks.Fire(event, env)
}
