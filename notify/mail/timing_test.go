package mail_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"testing"
	"testing/synctest"
	"time"

	"github.com/clooster/clooster/notify/mail"
)

// script is a server's side of an in-memory connection.
type script func(c net.Conn)

// stall answers nothing: it reads until the client hangs up.
func stall(c net.Conn) { io.Copy(io.Discard, c) }

// greetAfter greets the client after d, then answers its EHLO after e, and
// then stalls.
func greetAfter(d, e time.Duration) script {
	return func(c net.Conn) {
		r := bufio.NewReader(c)
		if !pause(c, r, d) {
			return
		}
		if _, err := io.WriteString(c, "220 fake ESMTP\r\n"); err != nil {
			return
		}
		if _, err := r.ReadString('\n'); err != nil {
			return
		}
		if !pause(c, r, e) {
			return
		}
		if _, err := io.WriteString(c, "250-fake\r\n250 8BITMIME\r\n"); err != nil {
			return
		}
		stall(c)
	}
}

// pause waits d, while the client says nothing; false if it hangs up.
func pause(c net.Conn, r *bufio.Reader, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := r.ReadByte()
	c.SetReadDeadline(time.Time{})
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestPushTimeouts runs Push against scripted servers on in-memory
// connections, in fake time: each step has the URL's timeout, and the
// context's deadline or cancellation ends the whole.
func TestPushTimeouts(t *testing.T) {
	tests := []struct {
		name    string
		server  script
		ctx     time.Duration // the context's timeout; 0 for none
		cancel  time.Duration // when to cancel the context; 0 for never
		wantCmd string
		wantErr error // nil for a step timeout
		took    time.Duration
	}{
		{name: "no greeting", server: stall, wantCmd: "greeting", took: 5 * time.Second},
		{name: "each step has its own timeout", server: greetAfter(4*time.Second, 4*time.Second),
			wantCmd: "MAIL FROM", took: 13 * time.Second},
		{name: "the context's deadline ends it", server: greetAfter(2*time.Second, time.Hour), ctx: 3 * time.Second,
			wantCmd: "EHLO", wantErr: context.DeadlineExceeded, took: 3 * time.Second},
		{name: "cancel ends it", server: greetAfter(time.Second, time.Hour), cancel: 1500 * time.Millisecond,
			wantCmd: "EHLO", wantErr: context.Canceled, took: 1500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				u, _ := url.Parse("smtp://mail.example.com/?timeout=5s&from=alerts@example.com&to=ops@example.com")
				s, err := mail.New(u)
				if err != nil {
					t.Fatal(err)
				}
				dialed := 0
				mail.SetDial(s, func(context.Context, string, string) (net.Conn, error) {
					dialed++
					client, server := net.Pipe()
					go func() {
						defer server.Close()
						tt.server(server)
					}()
					return client, nil
				})
				ctx, cancel := context.WithCancel(context.Background())
				if tt.ctx > 0 {
					ctx, cancel = context.WithTimeout(context.Background(), tt.ctx)
				}
				defer cancel()
				if tt.cancel > 0 {
					time.AfterFunc(tt.cancel, cancel)
				}

				start := time.Now()
				err = s.Push(ctx, "t", "b")
				if got, want := time.Since(start), tt.took; got != want {
					t.Errorf("Push took %v, want %v", got, want)
				}
				var e *mail.Error
				if !errors.As(err, &e) {
					t.Fatalf("Push = %v, want a *mail.Error", err)
				}
				if got, want := e.Cmd, tt.wantCmd; got != want {
					t.Errorf("Cmd %q, want %q (%v)", got, want, err)
				}
				if !e.Temporary() {
					t.Errorf("error %v is not Temporary", err)
				}
				var ne net.Error
				switch {
				case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
					t.Errorf("error %v, want %v", err, tt.wantErr)
				case tt.wantErr == nil && (!errors.As(err, &ne) || !ne.Timeout()):
					t.Errorf("error %v, want a timeout", err)
				}
				if dialed != 1 {
					t.Errorf("dialed %d times, want 1", dialed)
				}
			})
		})
	}
}
