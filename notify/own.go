package notify

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/clooster/clooster/notify/mail"
	"github.com/clooster/clooster/notify/telegram"
	"github.com/clooster/clooster/notify/webhook"
)

// The services clooster sends to itself, in shoutrrr's URL syntax.

func newWebhook(u *url.URL) (Sender, error) { return webhook.New(u, nil) }

func newMail(u *url.URL) (Sender, error) { return mail.New(u) }

func newTelegram(u *url.URL) (Sender, error) { return telegram.New(u, nil) }

var (
	_ Sender = (*webhook.Sender)(nil)
	_ Sender = (*mail.Sender)(nil)
	_ Sender = (*telegram.Sender)(nil)
)

// pushbulletTokenLen is the length of a Pushbullet access token, which
// shoutrrr checks too.
const pushbulletTokenLen = 34

// newPushbullet reads shoutrrr's pushbullet://TOKEN[/TARGET...] on
// clooster's own client: a push per target, "" or none for all devices,
// "#tag" a channel, an address an e-mail, else a device. The title
// parameter is taken and ignored: the alert's title is the push's.
func newPushbullet(u *url.URL) (Sender, error) {
	token := u.Hostname()
	if len(token) != pushbulletTokenLen {
		return nil, fmt.Errorf("the access token (the host) is %d characters, want %d", len(token), pushbulletTokenLen)
	}
	for k := range u.Query() {
		if !strings.EqualFold(k, "title") {
			return nil, fmt.Errorf("unknown key %q", k)
		}
	}
	path := strings.Trim(u.Path, "/")
	if u.Fragment != "" {
		path += "/#" + u.Fragment
	}
	var ts pushTargets
	for _, t := range strings.Split(path, "/") {
		var tg Target
		switch {
		case t == "":
		case strings.HasPrefix(t, "#"):
			tg.ChannelTag = t[1:]
		case strings.Contains(t, "@"):
			tg.Email = t
		default:
			tg.DeviceIden = t
		}
		if t == "" && len(ts) > 0 {
			continue
		}
		ts = append(ts, &Pushbullet{Token: token, Target: tg})
	}
	return ts, nil
}

// pushTargets sends each push to every target in turn. A retry sends to
// all again: the API drops a repeat of the same note (the Queue's guid).
type pushTargets []*Pushbullet

func (ts pushTargets) Push(ctx context.Context, title, body string) error {
	var errs []error
	for _, p := range ts {
		if err := p.Push(ctx, title, body); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
