package quorum_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/clooster/clooster/quorum"
)

// changes records the membership changes a member was asked for, and the
// name of who asked.
type changes struct {
	mu   sync.Mutex
	asks []string
}

func (c *changes) add(s string) {
	c.mu.Lock()
	c.asks = append(c.asks, s)
	c.mu.Unlock()
}

func (c *changes) list() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.asks...)
}

// TestClient asks three served members, a the leader, as member a's host
// would: its own member included.
func TestClient(t *testing.T) {
	members, lns := loopbackMembers(t, "a", "b", "c")
	got := map[string]*changes{}
	for _, n := range []string{"a", "b", "c"} {
		ch := &changes{}
		got[n] = ch
		cfg := baseConfig(t, n, members, lns[n])
		leads := n == "a"
		cfg.AddVoter = func(_ context.Context, name, address string) error {
			if !leads {
				return fmt.Errorf("%w: ask a", quorum.ErrNotLeader)
			}
			ch.add("add " + name + " " + address)
			return nil
		}
		cfg.RemoveServer = func(_ context.Context, name string) error {
			if !leads {
				return fmt.Errorf("%w: ask a", quorum.ErrNotLeader)
			}
			if name == "nobody" {
				return errors.New("no such member")
			}
			ch.add("remove " + name)
			return nil
		}
		serve(t, cfg)
	}
	_, ct := tlsConfigs(t)
	c, err := quorum.NewClient(quorum.ClientConfig{Self: "a", Members: members, Key: testKey, TLS: ct})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	tests := []struct {
		name    string
		do      func() error
		wantErr error  // nil: none
		inErr   string // in the error's text
	}{
		{name: "status of its own member", do: func() error {
			st, err := c.Status(ctx, members[0])
			if err == nil && st.Name != "a" {
				return fmt.Errorf("status names %q", st.Name)
			}
			return err
		}},
		{name: "status of another", do: func() error {
			st, err := c.Status(ctx, members[1])
			if err == nil && st.Name != "b" {
				return fmt.Errorf("status names %q", st.Name)
			}
			return err
		}},
		{name: "add, asked of the leader, its own member", do: func() error { return c.AddVoter(ctx, members[0], "d", "127.0.0.1:9") }},
		{name: "add, asked of a follower", do: func() error { return c.AddVoter(ctx, members[1], "d", "127.0.0.1:9") },
			wantErr: quorum.ErrNotLeader, inErr: "ask b: not the leader: not the leader: ask a"},
		{name: "remove, asked of the leader", do: func() error { return c.RemoveServer(ctx, members[0], "c") }},
		{name: "remove refused by the leader", do: func() error { return c.RemoveServer(ctx, members[0], "nobody") },
			inErr: "ask a: failed: no such member"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do()
			switch {
			case tt.wantErr == nil && tt.inErr == "" && err != nil:
				t.Fatalf("got %v, want no error", err)
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Fatalf("got %v, want %v", err, tt.wantErr)
			case tt.inErr != "" && (err == nil || !strings.Contains(err.Error(), tt.inErr)):
				t.Fatalf("got %v, want an error with %q", err, tt.inErr)
			}
		})
	}
	if got, want := strings.Join(got["a"].list(), "; "), "add d 127.0.0.1:9; remove c"; got != want {
		t.Errorf("the leader was asked %q, want %q", got, want)
	}
	for _, n := range []string{"b", "c"} {
		if l := got[n].list(); len(l) != 0 {
			t.Errorf("follower %s made changes: %q", n, l)
		}
	}
}

// A member that does not answer, and one with another key, are named in
// the error.
func TestClientErrors(t *testing.T) {
	members, lns := loopbackMembers(t, "a", "b", "c")
	lns["c"].Close() // nobody listens there any more
	cfg := baseConfig(t, "b", members, lns["b"])
	cfg.Key = []byte("another-key-0123456789abcdef0123")
	serve(t, cfg)
	_, ct := tlsConfigs(t)
	c, err := quorum.NewClient(quorum.ClientConfig{Self: "a", Members: members, Key: testKey, TLS: ct})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		m     quorum.Member
		inErr string
	}{
		{"nothing listens", members[2], "dial c: "},
		{"another key", members[1], "dial b: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.AddVoter(context.Background(), tt.m, "d", "127.0.0.1:9")
			if err == nil || !strings.Contains(err.Error(), tt.inErr) {
				t.Errorf("got %v, want an error with %q", err, tt.inErr)
			}
		})
	}
}

func TestNewClientRefuses(t *testing.T) {
	members, _ := loopbackMembers(t, "a", "b")
	_, ct := tlsConfigs(t)
	tests := []struct {
		name string
		cfg  quorum.ClientConfig
	}{
		{"not a member", quorum.ClientConfig{Self: "z", Members: members, Key: testKey, TLS: ct}},
		{"alone", quorum.ClientConfig{Self: "a", Members: members[:1], Key: testKey, TLS: ct}},
		{"no key", quorum.ClientConfig{Self: "a", Members: members, TLS: ct}},
		{"no tls", quorum.ClientConfig{Self: "a", Members: members, Key: testKey}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := quorum.NewClient(tt.cfg); err == nil {
				t.Error("got no error, want one")
			}
		})
	}
}
