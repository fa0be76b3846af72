// Package failover is the decision core of a node of the pair: who writes
// the DNS record, when, and what (docs/WRITE-RULE.md states the rule and
// its invariants).
//
// It is pure. Next is the state machine: it takes one Event (a keepalive,
// a lost link, the result of a read) and returns the new State and the
// Actions to carry out. Job is the procedure of one record update (read,
// judge under the write rule, write, retry with backoff) as a sequence of
// Steps. Loop is the glue a node's loop needs around Next: the health it
// polls, the keepalive flags it advertises and when to turn next. Nothing
// here reads a clock, does I/O or starts a goroutine; every time comes with
// an event.
//
// Two drivers run this same code: the daemon (package watchdog: real
// links, real time, a worker that carries out Jobs against the DNS
// provider) and the simulator (package sim: two nodes, a network, a DNS
// API and a clock, all simulated from one seed). RecordStore is the
// contract the daemon's DNS providers meet.
//
// Concurrency: none. A State, Loop or Job belongs to one goroutine.
package failover
