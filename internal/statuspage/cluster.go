package statuspage

// This file is the page of a member of a quorum cluster (a cluster block):
// every member, the leader and its term, whether this member has a quorum,
// each record and whose value it holds. The guard, the token's form, the
// stylesheet, the script and the headers are the pair page's.

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/clooster/clooster/quorum"
)

// ClusterHandler returns the status listener's handler of a cluster
// member: its page at / from status (called at every request, from any
// goroutine), the rest as Handler serves it. There is no /events: a
// cluster member's transitions are in its log and its alerts, and o.Scrub
// is not used: the page shows no text of an event or an error.
func ClusterHandler(status func() quorum.Status, o Options) http.Handler {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Tokens == nil {
		token := o.Token
		o.Tokens = func() string { return token }
	}
	h := &handler{o: o}
	page := func(w http.ResponseWriter, r *http.Request) {
		v := clusterView{Part: r.URL.Query().Get("part") == "main", Now: o.Now(), St: status()}
		var b strings.Builder
		if v.Part {
			writeClusterMain(&b, v)
		} else {
			writeClusterPage(&b, v)
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(b.String()))
	}
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", o.API)
	mux.HandleFunc("GET /page.css", h.static("page.css", "text/css; charset=utf-8"))
	mux.HandleFunc("GET /page.js", h.static("page.js", "text/javascript; charset=utf-8"))
	mux.HandleFunc("POST /login", h.login)
	mux.Handle("GET /{$}", h.guard(http.HandlerFunc(page), true))
	mux.Handle("/", h.guard(o.API, false))
	return secure(mux)
}

// clusterView is what the cluster page renders.
type clusterView struct {
	Part bool // only the main part, for the script's refresh
	Now  time.Time
	St   quorum.Status
}

// self is this member's entry in the member list.
func (v clusterView) self() (quorum.MemberView, bool) {
	i := slices.IndexFunc(v.St.Members, func(m quorum.MemberView) bool { return m.Name == v.St.Self })
	if i < 0 {
		return quorum.MemberView{}, false
	}
	return v.St.Members[i], true
}

// leading reports whether this member is the leader.
func (v clusterView) leading() bool { return v.St.Leader != "" && v.St.Leader == v.St.Self }

// writeClusterPage writes v as a whole document.
func writeClusterPage(b *strings.Builder, v clusterView) {
	b.WriteString("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n" +
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	fmt.Fprintf(b, "<title>%s</title>\n", esc("clooster: "+v.St.Self))
	b.WriteString("<link rel=\"stylesheet\" href=\"/page.css\">\n" +
		"<noscript><meta http-equiv=\"refresh\" content=\"10\"></noscript>\n" +
		"<script src=\"/page.js\" defer></script>\n</head>\n<body>\n<main id=\"main\">")
	writeClusterMain(b, v)
	b.WriteString("</main>\n<noscript><p class=\"note\">Without JavaScript this page reloads every 10 seconds.</p></noscript>\n" +
		"</body>\n</html>\n")
}

// writeClusterMain writes the page's main part, which the script fetches
// again every second.
func writeClusterMain(b *strings.Builder, v clusterView) {
	st, now := v.St, v.Now
	at := func(t time.Time) string { return clock(now, t) + " (" + ago(now, t) + ")" }
	me, _ := v.self()

	// The verdict: quorum first, it is what stops every write.
	b.WriteString("<header class=\"top\">\n")
	sub := string(me.Role)
	if st.State != "" {
		sub += ", " + strings.ToLower(st.State)
	}
	fmt.Fprintf(b, "<h1>%s <small>%s</small></h1>\n", esc(st.Self), esc(strings.TrimPrefix(sub, ", ")))
	switch {
	case !st.Quorum:
		b.WriteString("<p class=\"verdict bad\" data-verdict=\"no-quorum\">NO QUORUM: no write from this member</p>\n")
	case v.leading() && me.Role == quorum.RoleWitness:
		b.WriteString("<p class=\"verdict warn\" data-verdict=\"witness-leads\">Leading as the witness: handing leadership to a node</p>\n")
	case v.leading():
		b.WriteString("<p class=\"verdict active\" data-verdict=\"leader\">Leader: this member writes the records</p>\n")
	case st.Leader == "":
		b.WriteString("<p class=\"verdict warn\" data-verdict=\"no-leader\">No leader known</p>\n")
	default:
		fmt.Fprintf(b, "<p class=\"verdict standby\" data-verdict=\"follower\">Following %s, the leader</p>\n", esc(st.Leader))
	}
	fmt.Fprintf(b, "<p class=\"asof\">As of %s UTC <span id=\"live\" class=\"live\"></span></p>\n</header>\n\n", clock(now, now))

	if !st.Quorum {
		b.WriteString("<section class=\"alert alert-bad\" data-quorum=\"lost\"><h2>No quorum</h2><p>")
		if st.Leader == "" {
			b.WriteString("This member knows no leader that a majority of the members follows.")
		} else {
			fmt.Fprintf(b, "This member has not heard from %s, the last leader it knew, within the lease.", esc(st.Leader))
		}
		b.WriteString(" A member without a quorum never writes: the records stay as they are until a majority of the members" +
			" is back and elects a leader. If members are lost for good, <code>clooster cluster recover</code> is the last" +
			" resort: read its warning first.</p></section>\n")
	}

	// The cluster.
	b.WriteString("<section aria-label=\"The cluster\">\n<h2>Cluster</h2>\n<dl>\n<dt>Leader</dt><dd>")
	if st.Leader == "" {
		b.WriteString("<span class=\"bad\">none known</span>")
	} else {
		fmt.Fprintf(b, "<span data-leader=\"%[1]s\">%[1]s</span>", esc(st.Leader))
		if v.leading() {
			b.WriteString(" <span class=\"tag\">this member</span>")
		}
	}
	fmt.Fprintf(b, "</dd>\n<dt>Term</dt><dd>%d</dd>\n<dt>Quorum</dt><dd>", st.Term)
	if st.Quorum {
		b.WriteString("<span class=\"ok\" data-quorum=\"held\">held</span>")
	} else {
		b.WriteString("<span class=\"bad\">NOT HELD</span>")
	}
	b.WriteString("</dd>\n<dt>Voters</dt><dd>")
	if st.Voters == 0 {
		b.WriteString("<span class=\"muted\">not known until Raft runs</span>")
	} else {
		fmt.Fprintf(b, "<span data-voters=\"%d\">%d</span>: a quorum is %d of them", st.Voters, st.Voters, st.Majority())
	}
	fmt.Fprintf(b, "</dd>\n<dt>Leader changes</dt><dd>%d</dd>\n", st.LeaderChanges)
	fmt.Fprintf(b, "<dt>Writes</dt><dd>%d sent", st.Writes)
	if st.FencedWrites > 0 {
		fmt.Fprintf(b, ", <span class=\"warn\">%d refused by the DNS server</span> (fence or compare-and-swap)", st.FencedWrites)
	}
	if st.AbortedWrites > 0 {
		fmt.Fprintf(b, ", <span class=\"warn\">%d not sent</span> (lease too short)", st.AbortedWrites)
	}
	b.WriteString(" <span class=\"muted\">since this member started</span></dd>\n</dl>\n</section>\n\n")

	// The members.
	b.WriteString("<section aria-label=\"Members\">\n<h2>Members</h2>\n")
	if !v.leading() {
		b.WriteString("<p class=\"muted\">Only the leader asks the members how they are: of the others, this member shows what it" +
			" saw when it last led, if it ever did.</p>\n")
	}
	b.WriteString("<div class=\"scroll\">\n<table class=\"members\">\n<thead><tr><th>Name</th><th>Role</th><th>Priority</th>" +
		"<th>Reachable</th><th>Service</th><th>Last contact</th></tr></thead>\n<tbody>\n")
	// The file's members in the order of priority, then those only Raft's
	// configuration has.
	members := slices.Clone(st.Members)
	slices.SortStableFunc(members, func(a, c quorum.MemberView) int {
		if a.Unlisted != c.Unlisted {
			if a.Unlisted {
				return 1
			}
			return -1
		}
		return a.Priority - c.Priority
	})
	for _, m := range members {
		known := m.Name == st.Self || !m.LastContact.IsZero()
		voter := "unknown"
		if st.Voters > 0 {
			voter = fmt.Sprint(m.Voter)
		}
		fmt.Fprintf(b, "<tr data-member=\"%s\" data-reachable=\"%t\" data-voter=\"%s\">\n<td>%s", esc(m.Name), known && m.Reachable, voter, esc(m.Name))
		if m.Name == st.Leader {
			b.WriteString(" <span class=\"tag\">leader</span>")
		}
		if m.Name == st.Self {
			b.WriteString(" <span class=\"tag\">this member</span>")
		}
		fmt.Fprintf(b, "<br><small>%s</small>", esc(m.Address))
		switch {
		case m.Unlisted:
			b.WriteString("<br><small class=\"warn\" data-membership=\"unlisted\">in the cluster, not in this file" +
				" (added with <code>clooster cluster add</code>)</small>")
		case st.Voters > 0 && !m.Voter:
			b.WriteString("<br><small class=\"warn\" data-membership=\"removed\">removed from the cluster" +
				" (still in this file: take it out of <code>cluster.nodes</code>)</small>")
		}
		b.WriteString("</td><td>")
		switch {
		case m.Unlisted:
			b.WriteString("<span class=\"muted\">unknown</span></td><td><span class=\"muted\">unknown</span>")
		case m.Role == quorum.RoleWitness:
			b.WriteString("witness</td><td><span class=\"muted\">none: a witness never leads for long</span>")
		default:
			fmt.Fprintf(b, "%s</td><td>%d", esc(string(m.Role)), m.Priority)
		}
		b.WriteString("</td>\n<td>")
		switch {
		case !known:
			b.WriteString("<span class=\"muted\">unknown</span>")
		case m.Reachable:
			b.WriteString("<span class=\"ok\">yes</span>")
		default:
			b.WriteString("<span class=\"bad\">NO</span>")
		}
		b.WriteString("</td><td>")
		switch {
		case m.Role == quorum.RoleWitness:
			b.WriteString("<span class=\"muted\">none: a witness only votes</span>")
		case !known:
			b.WriteString("<span class=\"muted\">unknown</span>")
		case m.Healthy:
			b.WriteString("<span class=\"ok\">healthy</span>")
		default:
			b.WriteString("<span class=\"bad\">UNHEALTHY</span>")
		}
		b.WriteString("</td><td>")
		switch {
		case m.Name == st.Self:
			b.WriteString("<span class=\"muted\">now</span>")
		case m.LastContact.IsZero():
			b.WriteString("<span class=\"muted\">never</span>")
		default:
			b.WriteString(at(m.LastContact))
		}
		b.WriteString("</td>\n</tr>")
	}
	b.WriteString("\n</tbody>\n</table>\n</div>\n</section>\n\n")

	// The records.
	b.WriteString("<section aria-label=\"Records\">\n<h2>Records</h2>\n")
	if !v.leading() {
		b.WriteString("<p class=\"muted\">Only the leader reads and writes the records: this member shows them as it last did," +
			" if it ever led.</p>\n")
	}
	b.WriteString("<div class=\"scroll\">\n<table class=\"records cluster-records\">\n" +
		"<thead><tr><th>Name</th><th>Content</th><th>Holder</th><th>Last seen</th></tr></thead>\n<tbody>\n")
	for _, r := range st.Records {
		fmt.Fprintf(b, "<tr data-record=\"%s\" data-holder=\"%s\">\n<td>%s</td>\n<td>", esc(r.Name), esc(r.Holder), esc(r.Name))
		if r.At.IsZero() {
			b.WriteString("<span class=\"muted\">not read by this member</span>")
		} else {
			fmt.Fprintf(b, "<code>%s</code>", esc(r.Content))
		}
		b.WriteString("</td>\n<td>")
		switch {
		case r.Holder != "":
			b.WriteString(esc(r.Holder))
		case !r.At.IsZero():
			b.WriteString("<span class=\"warn\">no node's value</span>")
		}
		b.WriteString("</td>\n<td>")
		switch {
		case r.At.IsZero():
			b.WriteString("<span class=\"muted\">never</span>")
		case r.Written:
			fmt.Fprintf(b, "written by this member %s", at(r.At))
		default:
			fmt.Fprintf(b, "read %s", at(r.At))
		}
		b.WriteString("</td>\n</tr>")
	}
	b.WriteString("\n</tbody>\n</table>\n</div>\n</section>")
}
