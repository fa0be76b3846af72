//go:build unix

package e2e

import (
	"bytes"
	"fmt"
	"mime"
	"net"
	netmail "net/mail"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clooster/clooster/internal/fakechat"
	"github.com/clooster/clooster/internal/pairtest"
	"github.com/clooster/clooster/internal/smtptest"
)

// TestNotifyChannels: a failover on real processes reaches every channel at
// once, the pushbullet block, a real SMTP server, an ntfy stand-in that
// takes only "down", a webhook, and Telegram and Discord stand-ins (reached
// through HTTPS_PROXY, as their hosts are built in), while a channel that
// accepts connections and never answers delays neither the record nor the
// others. The failback that follows reaches every channel but ntfy.
func TestNotifyChannels(t *testing.T) {
	e2eTest(t)
	ntfyUser, ntfyPass := "clooster", pairtest.NewSecret("ntfy-pass-")
	hookToken := pairtest.NewSecret("hook-token-")
	tgToken := "110201543:" + pairtest.NewSecret("tg-")
	discordID, discordToken := "987654321", pairtest.NewSecret("discord-")
	chat, err := fakechat.Start(fakechat.Config{NtfyUser: ntfyUser, NtfyPassword: ntfyPass, WebhookAuth: "Bearer " + hookToken,
		TelegramToken: tgToken, DiscordID: discordID, DiscordToken: discordToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(chat.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := chat.WriteCA(caFile); err != nil {
		t.Fatal(err)
	}
	env := chat.Env(caFile)
	smtpd := smtptest.Start(t, smtptest.Options{})
	dead := silentListener(t)
	chatHost := strings.TrimPrefix(chat.URL, "http://")

	p := pairtest.NewPair(t, fastTiming)
	notify := []any{
		fmt.Sprintf("smtp://127.0.0.1:%d/?from=clooster@example.com&to=ops@example.com&encryption=None", smtpd.Port),
		map[string]any{"url": fmt.Sprintf("ntfy://%s:%s@%s/alerts?scheme=http", ntfyUser, ntfyPass, chatHost), "events": []any{"down"}},
		fmt.Sprintf("generic+http://%s/hook/clooster?template=json&@Authorization=Bearer%%20%s", chatHost, hookToken),
		fmt.Sprintf("generic+http://%s/hook", dead),
		"telegram://" + tgToken + "@telegram?chats=-1001234",
		"discord://" + discordToken + "@" + discordID,
	}
	for _, n := range []*pairtest.Node{&p.Srv1, &p.Srv2} {
		n.Extra = append(n.Extra, pairtest.Member{Key: "notify", Val: notify})
	}
	secrets := []pairtest.Secret{{Name: "ntfy password", Value: ntfyPass}, {Name: "webhook token", Value: hookToken},
		{Name: "telegram token", Value: tgToken}, {Name: "discord token", Value: discordToken}}
	start := func(n pairtest.Node) *pairtest.Proc {
		return bin.Start(t, pairtest.Cmd{Label: n.Label, Status: n.Status, Secrets: append(n.Secrets(), secrets...), Env: env, Args: []string{n.WriteConfig(t)}})
	}
	a := start(p.Srv1)
	b := start(p.Srv2)
	pairtest.WaitLinked(t, 10*time.Second, a, b)

	killed := a.Kill(t)
	pairtest.WaitFor(t, 5*time.Second, "record repointed to srv2", func() bool { return p.F.Content() == srv2 })
	wrote := p.F.CF.Writes()[0].At
	if took := wrote.Sub(killed); took >= time.Second {
		t.Errorf("kill -9 → record repointed in %v, want < 1s: a channel held it up", took.Round(time.Millisecond))
	}

	down := downTitle(srv2, srv1)
	mail := smtpd.Next(t)
	var pushed, ntfyAt, hookAt, tgAt, discordAt time.Time
	pairtest.WaitFor(t, 5*time.Second, "the down alert on pushbullet, ntfy, the webhook, Telegram and Discord", func() bool {
		if ps := p.F.PB.Pushes(); len(ps) > 0 {
			pushed = ps[0].At
		}
		for _, m := range chat.Messages() {
			switch {
			case m.Service == fakechat.Ntfy && ntfyAt.IsZero():
				ntfyAt = m.At
			case m.Service == fakechat.Webhook && hookAt.IsZero():
				hookAt = m.At
			case m.Service == fakechat.Telegram && tgAt.IsZero():
				tgAt = m.At
			case m.Service == fakechat.Discord && discordAt.IsZero():
				discordAt = m.At
			}
		}
		return !pushed.IsZero() && !ntfyAt.IsZero() && !hookAt.IsZero() && !tgAt.IsZero() && !discordAt.IsZero()
	})
	t.Logf("kill -9 → record written %v; alert after the write: pushbullet %v, ntfy %v, webhook %v, telegram %v, discord %v",
		wrote.Sub(killed).Round(time.Millisecond), pushed.Sub(wrote).Round(time.Millisecond),
		ntfyAt.Sub(wrote).Round(time.Millisecond), hookAt.Sub(wrote).Round(time.Millisecond),
		tgAt.Sub(wrote).Round(time.Millisecond), discordAt.Sub(wrote).Round(time.Millisecond))
	for what, at := range map[string]time.Time{"pushbullet": pushed, "ntfy": ntfyAt, "webhook": hookAt, "telegram": tgAt, "discord": discordAt} {
		if d := at.Sub(wrote); d > 2*time.Second {
			t.Errorf("%s got the alert %v after the write: the dead channel held it up", what, d.Round(time.Millisecond))
		}
	}
	if subject := mailSubject(t, mail); !strings.HasPrefix(subject, down) {
		t.Errorf("mail subject %q, want it to start %q", subject, down)
	}
	if mail.MailFrom != "clooster@example.com" || len(mail.RcptTos) != 1 || mail.RcptTos[0] != "ops@example.com" {
		t.Errorf("mail from %q to %q", mail.MailFrom, mail.RcptTos)
	}
	for _, m := range chat.Messages() {
		if !strings.HasPrefix(m.Title, down) && !strings.Contains(m.Text, down) {
			t.Errorf("%s message %q / %q does not carry the down alert", m.Service, m.Title, m.Text)
		}
		if !strings.Contains(m.Title+m.Text, "www.example.com") && !strings.Contains(string(m.Raw), "www.example.com") {
			t.Errorf("%s message %q / %q does not name the record", m.Service, m.Title, m.Text)
		}
	}

	// Back: srv1 fails back after failback_delay and says so everywhere
	// but on ntfy, which takes only "down".
	again := p.Srv1
	again.Label = "srv1 (restarted)"
	start(again)
	pairtest.WaitFor(t, 15*time.Second, "failback to srv1", func() bool { return p.F.Content() == srv1 })
	up := "[" + srv1 + "] Server '" + srv2 + "' is now up"
	if subject := mailSubject(t, smtpd.Next(t)); !strings.HasPrefix(subject, up) {
		t.Errorf("mail subject %q, want it to start %q", subject, up)
	}
	pairtest.WaitFor(t, 5*time.Second, "the up alert on pushbullet, the webhook, Telegram and Discord", func() bool {
		return p.F.PushesWith(up) == 1 && countService(chat, fakechat.Webhook) == 2 &&
			countService(chat, fakechat.Telegram) == 2 && countService(chat, fakechat.Discord) == 2
	})
	time.Sleep(time.Second) // room for a stray message
	if n := countService(chat, fakechat.Ntfy); n != 1 {
		t.Errorf("ntfy (events: down) got %d messages, want 1", n)
	}
	if n := len(p.F.PB.Pushes()); n != 2 {
		t.Errorf("pushbullet got %d pushes, want 2: %q", n, p.F.PushTitles())
	}
	smtpd.None(t)

	// The dead channel's message waits in its queue, retried; the others'
	// are sent.
	metrics, err := b.Get("/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`clooster_notifications_total{channel="pushbullet",service="pushbullet",result="sent"} 1`,
		`clooster_notifications_total{channel="notify[0]",service="smtp",result="sent"} 1`,
		`clooster_notifications_total{channel="notify[1]",service="ntfy",result="sent"} 1`,
		`clooster_notifications_total{channel="notify[2]",service="generic",result="sent"} 1`,
		`clooster_notifications_total{channel="notify[3]",service="generic",result="sent"} 0`,
		`clooster_notifications_queued{channel="notify[3]",service="generic"} `,
		`clooster_notifications_total{channel="notify[4]",service="telegram",result="sent"} 1`,
		`clooster_notifications_total{channel="notify[5]",service="discord",result="sent"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("srv2's metrics lack %q", want)
		}
	}
}

// silentListener accepts connections on 127.0.0.1 and never answers, until
// the test ends; it returns its address.
func silentListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan net.Conn, 64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			select {
			case conns <- c:
			default:
				c.Close()
			}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for {
			select {
			case c := <-conns:
				c.Close()
			default:
				return
			}
		}
	})
	return ln.Addr().String()
}

// mailSubject is the decoded Subject of m.
func mailSubject(t *testing.T, m smtptest.Mail) string {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatalf("mail: %v", err)
	}
	s, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("mail subject: %v", err)
	}
	return s
}

func countService(chat *fakechat.Server, service string) int {
	n := 0
	for _, m := range chat.Messages() {
		if m.Service == service {
			n++
		}
	}
	return n
}

// TestNotifyChannelDownThenBack: the ntfy server is down when the failover
// happens; the survivor keeps retrying, and once the server is back the
// alert arrives, once.
func TestNotifyChannelDownThenBack(t *testing.T) {
	e2eTest(t)
	chat, err := fakechat.Start(fakechat.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(chat.Close)
	chat.Down(fakechat.Ntfy, true)
	p := pairtest.NewPair(t, fastTiming)
	for _, n := range []*pairtest.Node{&p.Srv1, &p.Srv2} {
		n.Extra = append(n.Extra, pairtest.Member{Key: "notify", Val: []any{
			"ntfy://" + strings.TrimPrefix(chat.URL, "http://") + "/alerts?scheme=http"}})
	}
	a, _ := bin.StartPair(t, p)
	a.Kill(t)
	pairtest.WaitFor(t, 5*time.Second, "record repointed to srv2", func() bool { return p.F.Content() == srv2 })
	pairtest.WaitFor(t, 20*time.Second, "three attempts on the dead server", func() bool { return chat.Requests(fakechat.Ntfy) >= 3 })
	if n := countService(chat, fakechat.Ntfy); n != 0 {
		t.Fatalf("%d messages while down", n)
	}
	tried := chat.Requests(fakechat.Ntfy)
	chat.Down(fakechat.Ntfy, false)
	back := time.Now()
	pairtest.WaitFor(t, 40*time.Second, "the alert after the server's return", func() bool { return countService(chat, fakechat.Ntfy) == 1 })
	t.Logf("%d attempts while down; delivered %v after the server came back", tried, time.Since(back).Round(time.Millisecond))
	time.Sleep(2 * time.Second) // room for a repeat
	if n := countService(chat, fakechat.Ntfy); n != 1 {
		t.Errorf("%d messages, want the alert once", n)
	}
	if m := chat.Messages()[0]; !strings.HasPrefix(m.Title, downTitle(srv2, srv1)) {
		t.Errorf("message %q, want the down alert", m.Title)
	}
}
