// Package mail sends clooster's alerts by e-mail over SMTP, configured by a
// URL in the syntax of shoutrrr's smtp service:
//
//	smtp://[user[:password]@]host[:port]/?from=alerts@example.com&to=ops@example.com,oncall@example.com
//
// with the optional keys fromname, subject (alias title), auth (None, Plain,
// CRAMMD5, OAuth2 or Unknown), encryption (None, ExplicitTLS, ImplicitTLS or
// Auto), usestarttls (alias starttls), requirestarttls, skiptlsverify,
// clienthost (a name, or "auto" for the machine's), timeout (a Go duration)
// and usehtml; fromaddress and toaddresses are the long names of from and
// to. Keys are case-insensitive; an unknown key, a key given twice, or a
// bad value is an error that names it.
//
// The defaults are shoutrrr's: port 25, encryption Auto (implicit TLS on
// port 465, else STARTTLS when the server offers it), auth Unknown (PLAIN
// when the URL has a username, else none), client host "localhost", a 10 s
// timeout. Where shoutrrr's words and its code differ, the words win:
// encryption=None sends in clear even if the server offers STARTTLS, and
// encryption=ExplicitTLS fails, rather than sends in clear, when the server
// does not offer it. A URL that would have shoutrrr send credentials in
// clear to a host other than localhost, 127.0.0.1 or ::1 fails instead:
// nothing is authenticated outside TLS but on the machine itself.
//
// Each Push makes one SMTP session: one transaction for all recipients, so
// each gets the same message with every recipient in its To header. A
// recipient the server rejects does not keep the mail from the others.
//
// Concurrency: a Sender is immutable once New returns it; any number of
// goroutines may Push at once, each on its own connection. A Push returns
// soon after its context ends, and every network step is bounded by the
// URL's timeout.
//
// Nothing this package returns contains the password, or the username
// when it is not an address: Secrets lists them for the caller's logs.
package mail
