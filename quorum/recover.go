package quorum

import (
	"fmt"

	"github.com/hashicorp/raft"
)

// Recover is an operator's last resort when no quorum can form again (the
// witness and a node both lost for good): it rewrites the membership in
// self's stores, offline, so that self is the cluster's only voter. Run it
// with the node stopped; started again, the node elects itself and leads
// alone (it still waits one heartbeat timeout first, as any restart does).
//
// The other members must stay stopped while it runs alone: one started
// with its old state would stand with the old membership, and two of them
// could elect a second leader. To rebuild the cluster, stop every member,
// empty every state_dir (this one's too) and start them all: they
// bootstrap afresh from the member list.
func Recover(self Member, t Timings, st *Stores) error {
	conf := raftConfig(self, t, nil)
	_, trans := raft.NewInmemTransport(raft.ServerAddress(self.Address))
	defer trans.Close()
	alone := raft.Configuration{Servers: []raft.Server{{
		Suffrage: raft.Voter,
		ID:       raft.ServerID(self.Name),
		Address:  raft.ServerAddress(self.Address),
	}}}
	if err := raft.RecoverCluster(conf, fsm{}, st.Log, st.Stable, st.Snapshots, trans, alone); err != nil {
		return fmt.Errorf("recover %s alone: %w", self.Name, err)
	}
	return nil
}
