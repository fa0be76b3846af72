package webhook_test

import (
	"encoding/json"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/nicholas-fedor/shoutrrr/pkg/services/specialized/generic"
	"github.com/nicholas-fedor/shoutrrr/pkg/types"
)

// TestSameRequestAsShoutrrr sends the same alert through shoutrrr's generic
// service and through a Sender, and wants the endpoint to see the same
// request. shoutrrr ignores the URL's title, so no case sets one.
func TestSameRequestAsShoutrrr(t *testing.T) {
	tests := []struct {
		name  string
		url   string
		title string
	}{
		{name: "plain", url: "generic://HOST/api/hook?disabletls=yes", title: "t"},
		{name: "plain, custom form", url: "generic+http://HOST/api/hook"},
		{name: "json", url: "generic://HOST/hook?disabletls=yes&template=json", title: "t"},
		{name: "json without title", url: "generic+http://HOST/hook?template=json"},
		{name: "json, keys and extras", url: "generic+http://HOST/hook?template=json&titlekey=header&messagekey=text&$context=home&$n=1", title: "t"},
		{name: "content type and method", url: "generic+http://HOST/hook?template=json&contenttype=application/vnd.x%2Bjson&method=PUT", title: "t"},
		{name: "headers", url: "generic+http://HOST/hook?@Authorization=Bearer+s3cret&@contentType=text/x-alert&@X-API-Key=k&@apiKey=a"},
		{name: "passed-on query", url: "generic+http://HOST/hook?token=abc&__title=x&__template=y&z=1&z=2"},
		{name: "passed-on query, service form", url: "generic://HOST/hook?disabletls=yes&token=abc&__title=x"},
		{name: "userinfo", url: "generic+http://user:pass@HOST/hook?template=json", title: "t"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEndpoint(t, nil)
			raw := strings.ReplaceAll(tt.url, "HOST", e.host())

			if err := shoutrrrSend(t, raw, tt.title, "peer down"); err != nil {
				t.Fatalf("shoutrrr: %v", err)
			}
			want := e.last(t)
			if err := e.sender(t, tt.url).Push(t.Context(), tt.title, "peer down"); err != nil {
				t.Fatalf("Push: %v", err)
			}
			got := e.last(t)

			if got.method != want.method || got.path != want.path {
				t.Errorf("request = %s %s, shoutrrr's %s %s", got.method, got.path, want.method, want.path)
			}
			if !reflect.DeepEqual(got.query, want.query) {
				t.Errorf("query = %v, shoutrrr's %v", got.query, want.query)
			}
			for k := range want.header {
				switch k {
				case "User-Agent", "Accept-Encoding", "Content-Length":
					continue
				}
				if g, w := got.header.Values(k), want.header.Values(k); !reflect.DeepEqual(g, w) {
					t.Errorf("header %s = %q, shoutrrr's %q", k, g, w)
				}
			}
			var gotObj, wantObj any
			if json.Unmarshal(want.body, &wantObj) == nil {
				if err := json.Unmarshal(got.body, &gotObj); err != nil || !reflect.DeepEqual(gotObj, wantObj) {
					t.Errorf("body = %s, shoutrrr's %s", got.body, want.body)
				}
			} else if string(got.body) != string(want.body) {
				t.Errorf("body = %q, shoutrrr's %q", got.body, want.body)
			}
		})
	}
}

// shoutrrrSend sends one alert with shoutrrr's generic service, reading raw
// as shoutrrr's router does.
func shoutrrrSend(t *testing.T, raw, title, body string) error {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	svc := &generic.Service{}
	if u.Scheme != generic.Scheme {
		if u, err = svc.GetConfigURLFromCustom(u); err != nil {
			t.Fatalf("shoutrrr custom URL: %v", err)
		}
	}
	if err := svc.Initialize(u, nil); err != nil {
		t.Fatalf("shoutrrr Initialize: %v", err)
	}
	params := types.Params{}
	if title != "" {
		params[types.TitleKey] = title
	}
	return svc.Send(body, &params)
}
