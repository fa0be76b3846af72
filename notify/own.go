package notify

import (
	"net/url"

	"github.com/clooster/clooster/notify/mail"
	"github.com/clooster/clooster/notify/webhook"
)

// The services clooster sends to itself, in shoutrrr's URL syntax.

func newWebhook(u *url.URL) (Sender, error) { return webhook.New(u, nil) }

func newMail(u *url.URL) (Sender, error) { return mail.New(u) }

var (
	_ Sender = (*webhook.Sender)(nil)
	_ Sender = (*mail.Sender)(nil)
)
