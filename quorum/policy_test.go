package quorum

import (
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	a := Member{Name: "a", Address: "a:1", Priority: 1, Role: RoleNode}
	b := Member{Name: "b", Address: "b:1", Priority: 2, Role: RoleNode}
	c := Member{Name: "c", Address: "c:1", Priority: 3, Role: RoleNode}
	w := Member{Name: "w", Address: "w:1", Priority: 0, Role: RoleWitness}
	const fd = 30 * time.Second
	healthy := func(m Member, for_, seen time.Duration, index uint64) view {
		return view{Member: m, Answered: true, SeenHealthy: seen,
			Status: MemberStatus{Name: m.Name, Role: m.Role, Healthy: true, HealthyFor: for_, LastIndex: index}}
	}
	sick := func(m Member) view {
		return view{Member: m, Answered: true, Status: MemberStatus{Name: m.Name, Role: m.Role, LastIndex: 100}}
	}
	silent := view{Member: a}
	tests := []struct {
		name        string
		self        Member
		selfHealthy bool
		others      []view
		want        verdict
		fresh       bool // the first round of a term
	}{
		{"healthy best node stays", a, true, []view{healthy(b, time.Hour, time.Hour, 100), healthy(w, time.Hour, time.Hour, 100)}, verdict{}, false},
		{"healthy node, better one healthy long enough: failback", b, true, []view{healthy(a, fd, fd, 100)}, verdict{Transfer: true, To: a}, false},
		{"better one healthy by its account, not yet seen so long", b, true, []view{healthy(a, time.Hour, fd-time.Second, 100)}, verdict{}, false},
		{"better one seen long, healthy by its account for less", b, true, []view{healthy(a, fd-time.Second, time.Hour, 100)}, verdict{}, false},
		{"better one behind in the log", b, true, []view{healthy(a, fd, fd, 100-maxLogLag-1)}, verdict{}, false},
		{"better one just within the log bound", b, true, []view{healthy(a, fd, fd, 100-maxLogLag)}, verdict{Transfer: true, To: a}, false},
		{"healthy node never hands to a worse one", a, true, []view{healthy(b, time.Hour, time.Hour, 100)}, verdict{}, false},
		{"the best of two better ones", c, true, []view{healthy(b, fd, fd, 100), healthy(a, fd, fd, 100)}, verdict{Transfer: true, To: a}, false},
		{"unhealthy leader hands over at once", a, false, []view{healthy(b, 0, 0, 100)}, verdict{Transfer: true, To: b}, false},
		{"unhealthy leader: to the best healthy", c, false, []view{healthy(b, 0, 0, 100), sick(a)}, verdict{Transfer: true, To: b}, false},
		{"unhealthy leader, nobody healthy", a, false, []view{sick(b), silent}, verdict{NoEligible: true}, false},
		{"unhealthy leader, the other does not answer", a, false, []view{{Member: b}}, verdict{NoEligible: true}, false},
		{"witness hands over at once", w, true, []view{healthy(b, 0, 0, 100), healthy(a, 0, 0, 100)}, verdict{Transfer: true, To: a}, false},
		{"witness never hands to a witness", w, true, []view{healthy(Member{Name: "v", Role: RoleWitness}, time.Hour, time.Hour, 100)}, verdict{NoEligible: true}, false},
		{"witness, no node healthy", w, true, []view{sick(a), sick(b)}, verdict{NoEligible: true}, false},
		{"elected over a better node, healthy by its account: hands over before writing", b, true, []view{healthy(a, fd, 0, 100)}, verdict{Transfer: true, To: a}, true},
		{"elected over a better node healthy for a moment: hands over all the same", b, true, []view{healthy(a, time.Second, 0, 100)}, verdict{Transfer: true, To: a}, true},
		{"elected over a better node that is not healthy: keeps it", b, true, []view{sick(a)}, verdict{}, true},
		{"a later round needs the leader's own polls too", b, true, []view{healthy(a, fd, 0, 100)}, verdict{}, false},
		{"priority ties go to the name", c, false, []view{healthy(Member{Name: "e", Priority: 1, Role: RoleNode}, 0, 0, 100), healthy(Member{Name: "d", Priority: 1, Role: RoleNode}, 0, 0, 100)}, verdict{Transfer: true, To: Member{Name: "d", Priority: 1, Role: RoleNode}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decide(tt.self, tt.selfHealthy, 100, tt.others, fd, tt.fresh)
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestTimings(t *testing.T) {
	lan, err := Preset("")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := Preset("lan"); got != lan {
		t.Errorf("Preset(lan) = %+v, want the default %+v", got, lan)
	}
	wan, err := Preset("wan")
	if err != nil {
		t.Fatal(err)
	}
	if wan.HeartbeatTimeout <= lan.HeartbeatTimeout {
		t.Errorf("wan heartbeat timeout %s, want more than lan's %s", wan.HeartbeatTimeout, lan.HeartbeatTimeout)
	}
	if _, err := Preset("moon"); err == nil {
		t.Error("Preset(moon): got no error")
	}
	wt := lan.For(RoleWitness)
	if got, want := wt.ElectionTimeout, witnessFactor*lan.ElectionTimeout; got != want {
		t.Errorf("witness election timeout = %s, want %s", got, want)
	}
	if got := lan.For(RoleNode); got != lan {
		t.Errorf("node timings = %+v, want %+v", got, lan)
	}
	c := raftConfig(Member{Name: "w", Role: RoleWitness}, lan, nil)
	if c.HeartbeatTimeout != wt.HeartbeatTimeout || c.LeaderLeaseTimeout != lan.LeaderLeaseTimeout || string(c.LocalID) != "w" {
		t.Errorf("raft config of a witness: got %s/%s/%q", c.HeartbeatTimeout, c.LeaderLeaseTimeout, c.LocalID)
	}

	tests := []struct {
		name    string
		t       Timings
		api     time.Duration
		wantErr bool
	}{
		{"lan, its own API timeout", lan, lan.API, false},
		{"wan, its own API timeout", wan, wan.API, false},
		{"lan, wan's API timeout", lan, wan.API, true},
		{"API timeout as long as the lease", lan, lan.Lease(), true},
		{"no API timeout", lan, 0, true},
		{"lease timeout beyond the heartbeat timeout", Timings{HeartbeatTimeout: time.Second, ElectionTimeout: time.Second, LeaderLeaseTimeout: 2 * time.Second, CommitTimeout: time.Millisecond}, 100 * time.Millisecond, true},
		{"a zero figure", Timings{HeartbeatTimeout: time.Second}, 100 * time.Millisecond, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.t.validate(tt.api); (err != nil) != tt.wantErr {
				t.Errorf("validate: got %v, want error %v", err, tt.wantErr)
			}
		})
	}
}
