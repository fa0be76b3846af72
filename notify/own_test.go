package notify

import (
	"net/url"
	"slices"
	"testing"

	"github.com/clooster/clooster/internal/fakepb"
)

// shoutrrr's pushbullet URL on clooster's own client: a push per target.
func TestPushbulletURL(t *testing.T) {
	const token = "o.abcdefghijklmnopqrstuvwxyz012345" // 34 characters, as the API's
	api := newAPIServer(t)
	api.fake = fakepb.New(token)
	u, err := url.Parse("pushbullet://" + token + "/ujdev/ops@example.com/?title=ignored#alerts")
	if err != nil {
		t.Fatal(err)
	}
	s, err := newPushbullet(u)
	if err != nil {
		t.Fatal(err)
	}
	ts := s.(pushTargets)
	want := []Target{{DeviceIden: "ujdev"}, {Email: "ops@example.com"}, {ChannelTag: "alerts"}}
	var got []Target
	for _, p := range ts {
		got = append(got, p.Target)
		if p.Token != token {
			t.Errorf("token %q, want the URL's", p.Token)
		}
		p.BaseURL, p.HTTPClient = api.URL+"/v2", api.Client()
	}
	if !slices.Equal(got, want) {
		t.Errorf("targets %+v, want %+v", got, want)
	}
	if err := s.Push(t.Context(), "[srv2] down", "body"); err != nil {
		t.Fatal(err)
	}
	if n := len(api.fake.Pushes()); n != 3 {
		t.Errorf("%d pushes, want 3: one per target", n)
	}

	// No target: all devices, once.
	u, _ = url.Parse("pushbullet://" + token)
	s, err = newPushbullet(u)
	if err != nil {
		t.Fatal(err)
	}
	if ts := s.(pushTargets); len(ts) != 1 || ts[0].Target != (Target{}) {
		t.Errorf("targets %+v, want all devices", ts)
	}
}
