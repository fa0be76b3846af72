// Package statuspage serves a node's page for people at / of its status
// listener: both nodes, the link, each record and where it points, health,
// the guard, an update under way and the last transitions, rendered on the
// server (it reads without JavaScript) and refreshed every second by a few
// lines of script that fetch the same HTML again. It also serves /events,
// the last transitions as JSON, and guards everything but /healthz with
// status.token when one is set.
//
// Concurrency: the Handler is safe for concurrent use; it starts no
// goroutines.
package statuspage

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/clooster/clooster/watchdog"
)

// Source is what the page shows.
type Source interface {
	Status() watchdog.Status
	Events() []watchdog.Event
}

// Options are the Handler's settings.
type Options struct {
	// Token, when not empty, is required for everything but /healthz, the
	// page's stylesheet and script: as "Authorization: Bearer TOKEN", or
	// the cookie the page's form sets.
	Token string
	// Tokens, if set, is asked for the token at every request, in place
	// of Token: a reload of the configuration changes it.
	Tokens func() string
	// API serves the rest: /healthz, /status, /metrics.
	API http.Handler
	// Scrub takes secrets out of the text of events; nil: none.
	Scrub func(string) string
	// Now is the clock for "3s ago"; nil: time.Now.
	Now func() time.Time
}

// cookieName holds the page's proof of the token: an HMAC of it, so the
// token itself is not stored in the browser.
const cookieName = "clooster_status"

//go:embed page.css page.js
var files embed.FS

// Handler returns the status listener's handler for src.
func Handler(src Source, o Options) http.Handler {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Scrub == nil {
		o.Scrub = func(s string) string { return s }
	}
	if o.Tokens == nil {
		token := o.Token
		o.Tokens = func() string { return token }
	}
	h := &handler{src: src, o: o}
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", o.API)
	mux.HandleFunc("GET /page.css", h.static("page.css", "text/css; charset=utf-8"))
	mux.HandleFunc("GET /page.js", h.static("page.js", "text/javascript; charset=utf-8"))
	mux.HandleFunc("POST /login", h.login)
	mux.Handle("GET /{$}", h.guard(http.HandlerFunc(h.page), true))
	mux.Handle("GET /events", h.guard(http.HandlerFunc(h.events), false))
	mux.Handle("/", h.guard(o.API, false))
	return secure(mux)
}

type handler struct {
	src Source
	o   Options
}

// proof is the cookie value for token.
func proof(token string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("clooster status page"))
	return hex.EncodeToString(m.Sum(nil))
}

// allowed reports whether r carries the token, or the cookie it makes,
// compared in constant time.
func (h *handler) allowed(r *http.Request) bool {
	token := h.o.Tokens()
	if token == "" {
		return true
	}
	if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(bearer)), []byte(token)) == 1
	}
	if c, err := r.Cookie(cookieName); err == nil {
		return subtle.ConstantTimeCompare([]byte(c.Value), []byte(proof(token))) == 1
	}
	return false
}

// guard lets through a request that carries the token; any other gets
// 401: the page's form for a page, a plain answer for the rest.
func (h *handler) guard(next http.Handler, isPage bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.allowed(r) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="clooster"`)
		if isPage && r.URL.Query().Get("part") == "" {
			h.render(w, http.StatusUnauthorized, view{Login: true, Failed: r.URL.Query().Has("failed")})
			return
		}
		http.Error(w, "status.token required: Authorization: Bearer TOKEN", http.StatusUnauthorized)
	})
}

// login takes the form's token and, if it is right, sets the cookie.
func (h *handler) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	token, want := r.PostFormValue("token"), h.o.Tokens()
	if want == "" || subtle.ConstantTimeCompare([]byte(token), []byte(want)) != 1 {
		http.Redirect(w, r, "/?failed", http.StatusSeeOther)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: proof(want), Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (h *handler) static(name, ctype string) http.HandlerFunc {
	data, err := files.ReadFile(name)
	if err != nil {
		panic(err) // embedded above
	}
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(data)
	}
}

func (h *handler) page(w http.ResponseWriter, r *http.Request) {
	h.render(w, http.StatusOK, h.view(r.URL.Query().Get("part") == "main"))
}

func (h *handler) events(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(h.scrubbed(h.src.Events()))
}

// scrubbed is evs with the secrets taken out of their text.
func (h *handler) scrubbed(evs []watchdog.Event) []watchdog.Event {
	for i := range evs {
		evs[i].Msg = h.o.Scrub(evs[i].Msg)
		for k, v := range evs[i].Attrs {
			evs[i].Attrs[k] = h.o.Scrub(v)
		}
	}
	return evs
}

func (h *handler) render(w http.ResponseWriter, code int, v view) {
	var b strings.Builder
	if v.Part {
		writeMain(&b, v)
	} else {
		writePage(&b, v)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	io.WriteString(w, b.String())
}

// secure sets the headers every answer carries: no framing, no sniffing,
// no referrer, nothing cached, and a policy that lets the page load only
// its own stylesheet and script and talk only to its own origin.
func secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		if hd.Get("Cache-Control") == "" {
			hd.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}
