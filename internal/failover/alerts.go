package failover

import (
	"fmt"
	"strings"
	"time"

	"github.com/clooster/clooster/internal/logtext"
)

// The texts of the alerts the machine sends. Each title starts with this
// node's name in brackets; each body names the record and what was done.

func alertUnhealthyTakeover(c *Config, reason, healthReason string) ActNotify {
	return ActNotify{
		Event: AlertWithheld,
		Title: fmt.Sprintf("[%s] Server '%s' is now down (%s), but this node is unhealthy", c.This, c.Other, reason),
		Body:  fmt.Sprintf("Not taking '%s': this node's service fails its health check (%s).", c.Record, healthReason),
	}
}

func alertPeerServing(c *Config, detail string) ActNotify {
	return ActNotify{
		Event: AlertWithheld,
		Title: fmt.Sprintf("[%s] Link to '%s' down, peer still serving", c.This, c.Other),
		Body:  fmt.Sprintf("Not taking '%s': the peer's service answers (%s). Probing it every %s; this node takes over when it stops answering.", c.Record, detail, c.Keepalive),
	}
}

func alertPeerTookIt(c *Config, content string) ActNotify {
	return ActNotify{
		Event: AlertWithheld,
		Title: fmt.Sprintf("[%s] Link to '%s' down, peer still serving", c.This, c.Other),
		Body:  fmt.Sprintf("The peer took '%s' (now '%s') since the link was lost, so it is alive: not writing.", c.Record, content),
	}
}

func alertProblem(c *Config, p Problem) ActNotify {
	title := problemTitle(c, p.Kind)
	body := p.What + "."
	if p.Hint != "" {
		body += " " + strings.ToUpper(p.Hint[:1]) + p.Hint[1:] + "."
	}
	if handshakeProblem(p.Kind) {
		body += " Until it is fixed the nodes cannot link: each treats the other as down, and moves the record at most once."
	}
	return ActNotify{
		Event: AlertMismatch,
		Title: fmt.Sprintf("[%s] %s", c.This, strings.ToUpper(title[:1])+title[1:]),
		Body:  body,
	}
}

func alertBothDown(c *Config, holder string) ActNotify {
	return ActNotify{
		Event: AlertHealth,
		Title: fmt.Sprintf("[%s] Both services unhealthy", c.This),
		Body:  fmt.Sprintf("Neither node passes its health check; '%s' stays on '%s'.", c.Record, holder),
	}
}

func alertEditedValid(c *Config, content string) ActNotify {
	return ActNotify{
		Event: AlertDrift,
		Title: fmt.Sprintf("[%s] Record edited outside", c.This),
		Body:  fmt.Sprintf("'%s' now points to '%s', one of the pair: leaving it.", c.Record, content),
	}
}

func titleCorrected(c *Config) string {
	return fmt.Sprintf("[%s] Record edited outside: corrected", c.This)
}

func alertUpdateFailing(c *Config, title, also, err, want string) ActNotify {
	return ActNotify{
		Event: AlertFailed,
		Also:  also,
		Title: title + ", but something went wrong while updating the record",
		Body:  fmt.Sprintf("Here's what went wrong: %s. Retrying until '%s' points to '%s'.", err, c.Record, want),
	}
}

func alertDelayed(c *Config, title, also string, ev EvDone, failures int, took time.Duration, lastErr string) ActNotify {
	body := fmt.Sprintf("The address for '%s' has been changed to '%s' after %s over %s (last error: %s)",
		c.Record, ev.Content, logtext.Count(failures, "failed attempt"), took.Round(time.Second), lastErr)
	if !ev.Changed {
		body = fmt.Sprintf("No record change was necessary in the end: '%s' points to '%s'", c.Record, ev.Content)
	}
	return ActNotify{Event: AlertFailed, Also: also, Title: title + ": record update delayed", Body: body}
}

func alertContested(c *Config, content string) ActNotify {
	return ActNotify{
		Event: AlertWithheld,
		Title: fmt.Sprintf("[%s] Link to '%s' down; the peer keeps taking the record", c.This, c.Other),
		Body: fmt.Sprintf("'%s' points to '%s' again although the peer's service does not answer from here, so the peer's clooster runs and sees this node's service gone too: not writing again until the link is back. Check the network between the two nodes.",
			c.Record, content),
	}
}

func alertMissing(c *Config) ActNotify {
	return ActNotify{
		Event: AlertFailed,
		Title: fmt.Sprintf("[%s] Record '%s' not found", c.This, c.Record),
		Body: fmt.Sprintf("'%s' does not exist, or no longer has its configured type: clooster does not create it. It looks for it every %s and goes on once it is back.",
			c.Record, missingEvery),
	}
}

// alertLandedLate: a takeover or correction abandoned when the link came
// back landed after all.
func alertLandedLate(c *Config, p Purpose, content string) ActNotify {
	return ActNotify{Event: alertEvent(p),
		Title: fmt.Sprintf("[%s] Link to '%s' back; an update begun without it landed", c.This, c.Other),
		Body: fmt.Sprintf("The %s begun while the link was down was dropped when it came back, but its write landed: '%s' now holds '%s'. "+
			"The nodes agree on it over the link; the failback puts the preferred value back after failback_delay.", p, c.Record, content)}
}
