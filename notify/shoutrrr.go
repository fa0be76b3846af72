package notify

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/nicholas-fedor/shoutrrr/pkg/types"
)

// Open returns the Sender for a channel's URL: clooster's own for smtp,
// generic, telegram and pushbullet, shoutrrr's service for the others.
// Nothing is dialled until the first Push. Its errors never contain the
// URL's secrets.
func Open(p *URL) Sender {
	svc := services[p.Service]
	if svc.own == nil {
		return &shoutrrrSender{url: p, svc: svc}
	}
	s, err := svc.own(p.u)
	if err != nil {
		return failing{p, err} // ParseURL checked it: not reached
	}
	return redacting{p, s}
}

// redacting passes pushes on, and takes the URL's secrets out of errors.
type redacting struct {
	url *URL
	Sender
}

func (r redacting) Push(ctx context.Context, title, body string) error {
	if err := r.Sender.Push(ctx, title, body); err != nil {
		return &sendError{service: r.url.Service, msg: r.url.redact(err.Error()), err: err}
	}
	return nil
}

// failing is a Sender whose URL could not be opened.
type failing struct {
	url *URL
	err error
}

func (f failing) Push(context.Context, string, string) error {
	return fmt.Errorf("%s: %w: %s", f.url.Service, ErrMisconfigured, f.url.redact(f.err.Error()))
}

// sendError is a channel's failure, its text free of the URL's secrets. It
// keeps the error of one of clooster's own senders for errors.As (their
// Temporary, RetryAfter) but does not unwrap to it, so that no caller can
// print the original.
type sendError struct {
	service string
	msg     string
	err     error
	perm    bool // shoutrrr's: the service refused the message
}

func (e *sendError) Error() string {
	if strings.HasPrefix(e.msg, e.service+": ") {
		return e.msg
	}
	return e.service + ": " + e.msg
}

// Temporary reports whether trying again may succeed.
func (e *sendError) Temporary() bool {
	if e.err != nil {
		if t, known, _ := judge(e.err); known {
			return t
		}
	}
	return !e.perm
}

// RetryAfter is how long the service asked to wait, if it said.
func (e *sendError) RetryAfter() time.Duration {
	if e.err == nil {
		return 0
	}
	_, _, wait := judge(e.err)
	return wait
}

// shoutrrrSender sends through one of shoutrrr's services. The service is
// set up at the first push (matrix logs in then) and again after a failed
// set-up. shoutrrr's Send takes no context: an attempt that times out
// leaves its send running, and the next attempt waits for it first; if it
// was the same note's and it went through, that is the attempt's success,
// so a slow service gets the message once.
type shoutrrrSender struct {
	url *URL
	svc service

	mu     sync.Mutex
	s      types.Service // nil until set up
	flight *flight       // a send that outlived its attempt
}

type flight struct {
	guid string
	done chan struct{}
	err  error
}

func (s *shoutrrrSender) Push(ctx context.Context, title, body string) error {
	guid := guidFrom(ctx)
	s.mu.Lock()
	f := s.flight
	s.mu.Unlock()
	if f != nil {
		select {
		case <-f.done:
		case <-ctx.Done():
			return s.fail(fmt.Errorf("the previous send is still under way: %w", ctx.Err()), false)
		}
		s.mu.Lock()
		s.flight = nil
		s.mu.Unlock()
		if guid != "" && f.guid == guid && f.err == nil {
			return nil
		}
	}
	svc, err := s.service()
	if err != nil {
		return s.fail(fmt.Errorf("set up: %w", err), false)
	}
	message, params := body, types.Params{}
	if s.svc.titled {
		params["title"] = title
	} else if title != "" {
		message = title + "\n\n" + body
	}
	f = &flight{guid: guid, done: make(chan struct{})}
	go func() {
		defer close(f.done)
		defer func() {
			if r := recover(); r != nil {
				f.err = fmt.Errorf("the service's code failed: %v", r)
			}
		}()
		f.err = svc.Send(message, &params)
	}()
	select {
	case <-f.done:
		if f.err != nil {
			return s.fail(f.err, refused(f.err))
		}
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		s.flight = f
		s.mu.Unlock()
		return s.fail(fmt.Errorf("no answer: %w", ctx.Err()), false)
	}
}

// service returns the set-up service, setting it up if it is not.
func (s *shoutrrrSender) service() (svc types.Service, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.s != nil {
		return s.s, nil
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the service's code failed: %v", r)
		}
	}()
	svc = s.svc.open()
	if err := svc.Initialize(s.url.u, nil); err != nil {
		return nil, err
	}
	s.s = svc
	return svc, nil
}

// fail is err as the sender's error. Only perm says whether to retry: the
// chains of shoutrrr's errors hold net/http's, whose deprecated Temporary
// says false for a connection the server closed.
func (s *shoutrrrSender) fail(err error, perm bool) error {
	return &sendError{service: s.url.Service, msg: s.url.redact(err.Error()), perm: perm}
}

// refusedStatus finds an HTTP status in a shoutrrr error that says the
// service refused the message for good (bad token, unknown chat): shoutrrr
// reports statuses only as text, ntfy's as its own codes ("unauthorized
// (40101)").
var refusedStatus = regexp.MustCompile(`\b(400|401|403|404|405|410|413|422)\b|\((400|401|403|404|413)\d\d\)`)

func refused(err error) bool {
	msg := err.Error()
	return refusedStatus.MatchString(msg) && !strings.Contains(msg, "timeout")
}
