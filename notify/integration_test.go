package notify

import (
	"context"
	"reflect"
	"strings"
	"testing"
)

// signalSender passes pushes on and reports each finished attempt.
type signalSender struct {
	Sender
	done chan error
}

func (s signalSender) Push(ctx context.Context, title, body string) error {
	err := s.Sender.Push(ctx, title, body)
	s.done <- err
	return err
}

func TestQueueOverPushbullet(t *testing.T) {
	tests := []struct {
		name       string
		token      string
		wantTitles []string
		want       Stats
		wantLog    string
	}{
		{name: "sent", token: testToken, wantTitles: []string{"peer down", "peer up"},
			want: Stats{Sent: 2}, wantLog: `level=INFO msg="push sent" component=notify title="peer down" attempt=1`},
		{name: "bad token given up", token: "o.wrong-" + testToken, want: Stats{Failed: 2},
			wantLog: `level=ERROR msg="push failed, rejected, not retrying" component=notify title="peer down" attempt=1 error="pushbullet: 401 invalid_access_token: Access token is missing or invalid."`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newAPIServer(t)
			pb := api.client(Target{})
			pb.Token = tt.token
			s := signalSender{Sender: pb, done: make(chan error, 2)}
			logs := &logBuffer{}
			q := NewQueue(s, logs.textLogger())
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error)
			go func() { done <- q.Run(ctx) }()
			q.Notify("peer down", "b.example.com is silent")
			q.Notify("peer up", "b.example.com is back")
			<-s.done
			<-s.done
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run = %v, want nil", err)
			}

			var titles []string
			for _, p := range api.fake.Pushes() {
				titles = append(titles, p.Title)
			}
			if !reflect.DeepEqual(titles, tt.wantTitles) {
				t.Errorf("pushed %q, want %q", titles, tt.wantTitles)
			}
			for i, r := range api.requests() {
				if g, _ := r.body["guid"].(string); g == "" {
					t.Errorf("request %d has no guid", i)
				}
			}
			if got := q.Stats(); got != tt.want {
				t.Errorf("Stats() = %+v, want %+v", got, tt.want)
			}
			out := logs.String()
			if !strings.Contains(out, tt.wantLog) {
				t.Errorf("log lacks %q:\n%s", tt.wantLog, out)
			}
			if strings.Contains(out, testToken) {
				t.Errorf("log contains the token:\n%s", out)
			}
		})
	}
}
