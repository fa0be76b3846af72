// Package quorum is clooster's quorum mode: three or more members, or a pair
// with a witness, agreeing on one writer through embedded Raft
// (github.com/hashicorp/raft). Only the Raft leader writes DNS; a member
// without quorum never writes; a witness votes and never writes.
//
// This file holds the vocabulary the package's parts share: the members, what
// a member says of itself when asked, and the DNS provider's fence.
package quorum

import (
	"context"
	"time"
)

// Role is a member's part in the cluster.
type Role string

const (
	// RoleNode serves the website: it can lead, and then writes DNS.
	RoleNode Role = "node"
	// RoleWitness votes and never writes; it hands leadership away at
	// once if it wins an election.
	RoleWitness Role = "witness"
)

// Member is one member of the cluster, as every member's configuration
// lists it.
type Member struct {
	Name     string // its this_server; the Raft server ID
	Address  string // host:port: Raft and the control protocol, one TLS port
	Priority int    // lower first
	Role     Role
}

// MemberStatus is what a member says of itself when the leader asks over the
// control protocol. Durations are by the answering member's clock, so that
// the clocks of two members never have to agree.
type MemberStatus struct {
	Name    string
	Role    Role
	Healthy bool
	// HealthyFor is how long the member has been healthy without a break;
	// 0 when it is not healthy.
	HealthyFor time.Duration
	// LastIndex is the member's last Raft log index.
	LastIndex uint64
	Version   string
}

// Fencer is a DNS provider that can refuse a deposed leader's write itself:
// each zone holds a fence (RFC 2136: a TXT record at _clooster.<zone>
// holding the Raft term), and a fenced write carries the term it was
// decided in as a prerequisite of the same update.
type Fencer interface {
	// RaiseFence sets the fence of the record's zone to term if it holds a
	// lower term or none; if it holds term already, it does nothing. If
	// it holds a higher term, nothing is written and the error wraps
	// failover.ErrConflict: a later leader exists.
	RaiseFence(ctx context.Context, term uint64) error
	// SwapFenced sets the record's content to content only if the record
	// still holds old and the zone's fence still holds term; else nothing
	// is written and the error wraps failover.ErrConflict.
	SwapFenced(ctx context.Context, term uint64, old, content string) error
}
