package statuspage

import (
	"fmt"
	"html"
	"strings"
	"time"

	"github.com/clooster/clooster/internal/logtext"
	"github.com/clooster/clooster/watchdog"
)

// The page is written by plain Go, not html/template: text/template's
// method calls by name make the linker keep every exported method of the
// program, 4.9 MB of binary. Every text from the node goes through esc.

// esc is s escaped for HTML text and attribute values.
func esc(s string) string { return html.EscapeString(s) }

// page writes v as a whole document: the page, or the token's form.
func writePage(b *strings.Builder, v view) {
	title := "clooster"
	if !v.Login {
		title += ": " + v.St.Node
	}
	b.WriteString("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n" +
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	fmt.Fprintf(b, "<title>%s</title>\n", esc(title))
	b.WriteString("<link rel=\"stylesheet\" href=\"/page.css\">\n" +
		"<noscript><meta http-equiv=\"refresh\" content=\"10\"></noscript>\n" +
		"<script src=\"/page.js\" defer></script>\n</head>\n<body>\n")
	if v.Login {
		b.WriteString("<main class=\"login\">\n<h1>clooster</h1>\n<form method=\"post\" action=\"/login\">\n" +
			"<label for=\"token\">This node's status token</label>\n" +
			"<input id=\"token\" type=\"password\" name=\"token\" autocomplete=\"current-password\" required autofocus>\n" +
			"<button type=\"submit\">Open the status page</button>\n")
		if v.Failed {
			b.WriteString("<p class=\"bad\">That is not the token.</p>\n")
		}
		b.WriteString("</form>\n</main>\n")
	} else {
		b.WriteString("<main id=\"main\">")
		writeMain(b, v)
		b.WriteString("</main>\n<noscript><p class=\"note\">Without JavaScript this page reloads every 10 seconds.</p></noscript>\n")
	}
	b.WriteString("</body>\n</html>\n")
}

// writeMain writes the page's main part, which the script fetches again
// every second.
func writeMain(b *strings.Builder, v view) {
	st, now := v.St, v.Now
	ago := func(t time.Time) string { return ago(now, t) }
	clock := func(t time.Time) string { return clock(now, t) }
	at := func(t time.Time) string { return clock(t) + " (" + ago(t) + ")" }

	// The verdict.
	b.WriteString("<header class=\"top\">\n")
	role := st.Role
	if st.DryRun {
		role += ", dry run"
	}
	fmt.Fprintf(b, "<h1>%s <small>%s</small></h1>\n", esc(st.Node), esc(role))
	switch {
	case v.Here > 0 && v.There == 0:
		b.WriteString("<p class=\"verdict active\" data-verdict=\"active\">Active: the records point here</p>\n")
	case v.There > 0 && v.Here == 0:
		fmt.Fprintf(b, "<p class=\"verdict standby\" data-verdict=\"standby\">Standby: the records point to %s</p>\n", esc(st.Peer.Name))
	case v.Here > 0:
		fmt.Fprintf(b, "<p class=\"verdict bad\" data-verdict=\"split\">Split: %d records point here, %d to %s</p>\n", v.Here, v.There, esc(st.Peer.Name))
	default:
		b.WriteString("<p class=\"verdict warn\" data-verdict=\"neither\">The records point to neither node")
		if st.Record.Checked.IsZero() {
			b.WriteString(" (not read yet)")
		}
		b.WriteString("</p>\n")
	}
	fmt.Fprintf(b, "<p class=\"asof\">As of %s UTC <span id=\"live\" class=\"live\"></span></p>\n</header>\n\n", clock(now))

	// This node.
	b.WriteString("<section class=\"nodes\" aria-label=\"The two nodes\">\n<article class=\"node\">\n")
	fmt.Fprintf(b, "<h2>This node <small>%s</small></h2>\n<dl>\n<dt>Role</dt><dd>%s", esc(st.Node), esc(st.Role))
	if v.Here > 0 {
		fmt.Fprintf(b, ", holds %d of %d records", v.Here, len(st.Records))
	}
	b.WriteString("</dd>\n<dt>Service</dt><dd>")
	switch h := st.Health; {
	case !h.Checked:
		b.WriteString("<span class=\"muted\">no health check</span>")
	case h.Healthy:
		fmt.Fprintf(b, "<span class=\"ok\">healthy</span> since %s", at(h.Since))
	default:
		fmt.Fprintf(b, "<span class=\"bad\">UNHEALTHY</span>: %s, since %s", esc(h.Reason), at(h.Since))
	}
	b.WriteString("</dd>\n")
	if st.Health.Checked && st.Health.LastCheck != "" {
		fmt.Fprintf(b, "<dt>Last check</dt><dd>%s</dd>\n", esc(st.Health.LastCheck))
	}
	fmt.Fprintf(b, "<dt>Running since</dt><dd>%s, version %s</dd>\n</dl>\n</article>\n", at(st.Started), esc(st.Version))

	// The peer, as this node last heard it.
	p := st.Peer
	fmt.Fprintf(b, "<article class=\"node\">\n<h2>Peer <small>%s</small></h2>\n<dl>\n", esc(p.Name))
	fmt.Fprintf(b, "<dt>State</dt><dd><span class=\"state %[1]s\" data-peer-state=\"%[1]s\">%[1]s</span> since %[2]s", esc(string(p.State)), at(p.Since))
	if p.Reason != "" {
		fmt.Fprintf(b, "<br><span class=\"muted\">link lost: %s</span>", esc(p.Reason))
	}
	b.WriteString("</dd>\n<dt>Service</dt><dd>")
	switch {
	case p.Healthy == nil:
		b.WriteString("<span class=\"muted\">unknown: not linked</span>")
	case *p.Healthy:
		b.WriteString("<span class=\"ok\">healthy</span> (as it says)")
	default:
		b.WriteString("<span class=\"bad\">UNHEALTHY</span> (as it says)")
	}
	b.WriteString("</dd>\n<dt>Link</dt><dd>")
	if p.State == watchdog.PeerUp {
		fmt.Fprintf(b, "%s, round trip %.1f ms", esc(p.Addr), p.RTTMillis)
	} else {
		b.WriteString("<span class=\"muted\">none</span>")
	}
	b.WriteString("</dd>\n<dt>Last heard</dt><dd>")
	if p.LastHeard.IsZero() {
		b.WriteString("<span class=\"muted\">never</span>")
	} else {
		b.WriteString(at(p.LastHeard))
	}
	b.WriteString("</dd>\n</dl>\n</article>\n</section>\n\n")

	// What needs attention.
	for _, pr := range st.Link.Problems {
		fmt.Fprintf(b, "<section class=\"alert alert-bad\" data-problem=\"%s\"><h2>The two nodes disagree: %s</h2><p>%s, since %s.", esc(pr.Kind), esc(pr.Kind), esc(pr.What), at(pr.Since))
		if pr.Hint != "" {
			fmt.Fprintf(b, " %s.", esc(pr.Hint))
		}
		b.WriteString("</p></section>\n")
	}
	if nf := st.Link.NoFailback; len(nf) > 0 {
		b.WriteString("<section class=\"alert alert-bad\"><h2>No failback</h2><p>No failback while the two nodes' files differ on:</p><ul>")
		for _, m := range nf {
			fmt.Fprintf(b, "<li>%s</li>", esc(m))
		}
		b.WriteString("</ul></section>\n")
	}
	g := st.Guard
	peerCheck := ""
	if g.PeerCheck != "" {
		peerCheck = " peer_check: the peer's service is " + esc(g.PeerCheck) + "."
	}
	switch {
	case g.Withholding:
		fmt.Fprintf(b, "<section class=\"alert alert-warn\"><h2>Takeover withheld</h2><p>%s, since %s.%s</p></section>\n", esc(g.Reason), at(g.Since), peerCheck)
	case peerCheck != "":
		fmt.Fprintf(b, "<section class=\"alert\"><p>%s</p></section>\n", strings.TrimSpace(peerCheck))
	}
	if u := st.Update; u != nil {
		class, failures := "alert", ""
		if u.Failures > 0 {
			class += " alert-bad"
			failures = fmt.Sprintf(", %s; last: %s", logtext.Count(u.Failures, "failed attempt"), esc(u.LastErr))
		}
		fmt.Fprintf(b, "<section class=\"%s\"><h2>Update under way</h2><p>%s to <code>%s</code> since %s%s.</p></section>\n",
			class, esc(u.Purpose), esc(u.Want), at(u.Since), failures)
	}

	// The records.
	b.WriteString("\n<section aria-label=\"Records\">\n<h2>Records</h2>\n<div class=\"scroll\">\n<table class=\"records\">\n" +
		"<thead><tr><th>Name</th><th>Type</th><th>Content</th><th>Points to</th><th>Last write</th></tr></thead>\n<tbody>\n")
	for _, r := range st.Records {
		fmt.Fprintf(b, "<tr data-record=\"%s %s\" data-points-to=\"%s\">\n<td>%s</td><td>%s</td>\n<td>",
			esc(r.Name), esc(r.Type), esc(r.PointsTo), esc(r.Name), esc(r.Type))
		switch {
		case r.Missing:
			b.WriteString("<span class=\"bad\">MISSING</span>")
		case r.Content != "":
			fmt.Fprintf(b, "<code>%s</code>", esc(r.Content))
		default:
			b.WriteString("<span class=\"muted\">not read yet</span>")
		}
		b.WriteString("</td>\n<td>")
		switch {
		case r.PointsTo != "":
			b.WriteString(esc(r.PointsTo))
		case r.Content != "":
			b.WriteString("<span class=\"warn\">neither node</span>")
		}
		if r.Preferred {
			b.WriteString(" <span class=\"tag\">preferred</span>")
		}
		b.WriteString("</td>\n<td>")
		switch {
		case r.WriteError != "":
			fmt.Fprintf(b, "<span class=\"bad\">failed: %s</span>", esc(r.WriteError))
		case r.ReadError != "":
			fmt.Fprintf(b, "<span class=\"bad\">cannot read it: %s</span>", esc(r.ReadError))
		case r.LastWrite.IsZero():
			b.WriteString("<span class=\"muted\">none by this node</span>")
		default:
			b.WriteString(at(r.LastWrite))
		}
		b.WriteString("</td>\n</tr>")
	}
	b.WriteString("\n</tbody>\n</table>\n</div>\n</section>\n\n")

	// The timeline, newest first.
	b.WriteString("<section aria-label=\"Last transitions\">\n<h2>Last transitions</h2>\n")
	if len(v.Events) == 0 {
		b.WriteString("<p class=\"muted\">None yet.</p>\n")
	} else {
		b.WriteString("<ol class=\"timeline\">\n")
		for _, e := range v.Events {
			fmt.Fprintf(b, "<li class=\"lv-%s\"><time datetime=\"%s\">%s</time> <b>%s</b> %s",
				esc(strings.ToLower(e.Level)), e.At.UTC().Format(time.RFC3339), clock(e.At), esc(e.Name), esc(e.Msg))
			if e.Detail != "" {
				fmt.Fprintf(b, " <span class=\"muted\">%s</span>", esc(e.Detail))
			}
			b.WriteString("</li>\n")
		}
		b.WriteString("</ol>\n")
	}
	b.WriteString("</section>")
}

// ago is how long before now t was: "4s ago", "3m 12s ago", "2h 5m ago",
// "3d 4h ago".
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := max(now.Sub(t), 0).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm %ds ago", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh %dm ago", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd %dh ago", int(d.Hours())/24, int(d.Hours())%24)
}

// clock is t in UTC, to the second, with the date when it is not today.
func clock(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	t, now = t.UTC(), now.UTC()
	if t.YearDay() == now.YearDay() && t.Year() == now.Year() {
		return t.Format("15:04:05")
	}
	return t.Format("2006-01-02 15:04:05")
}
