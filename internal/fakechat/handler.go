package fakechat

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxBody bounds a request body.
const maxBody = 1 << 20

// retryAfter is what an injected 429 asks a client to wait.
const retryAfter = time.Second

// ServeHTTP routes a request to its service, by host when it came through
// the proxy and by path otherwise, then applies the service's faults.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	service := route(r)
	s.mu.Lock()
	s.requests[service]++
	f := s.faults[service]
	s.mu.Unlock()

	if f.down {
		hangUp(w)
		return
	}
	if f.status != 0 {
		fail(w, service, f.status)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	switch service {
	case Telegram:
		s.telegram(w, r)
	case Discord:
		s.discord(w, r)
	case Webhook:
		s.webhook(w, r)
	default:
		s.ntfy(w, r)
	}
}

// route names the service r is for.
func route(r *http.Request) string {
	if r.TLS != nil {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if strings.EqualFold(host, DiscordHost) {
			return Discord
		}
		return Telegram
	}
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/bot") && strings.Contains(p, ":"):
		// A bot token holds a colon; an ntfy topic cannot.
		return Telegram
	case strings.HasPrefix(p, "/api/webhooks/") || discordPath.MatchString(p):
		return Discord
	case p == "/hook" || strings.HasPrefix(p, "/hook/"):
		return Webhook
	}
	return Ntfy
}

// fail answers status in service's error shape.
func fail(w http.ResponseWriter, service string, status int) {
	switch status {
	case http.StatusBadGateway, http.StatusGatewayTimeout:
		// An intermediate proxy answers, not the service: no JSON.
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>\n", status, http.StatusText(status))
		return
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", strconv.Itoa(int(retryAfter/time.Second)))
	}
	switch service {
	case Ntfy:
		ntfyFail(w, ntfyErrorFor(status))
	case Telegram:
		telegramFail(w, status, telegramDescription(status))
	case Discord:
		discordFail(w, status, discordErrorFor(status))
	default:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		fmt.Fprintf(w, "%d %s\n", status, http.StatusText(status))
	}
}

// hangUp closes the connection without writing anything.
func hangUp(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	conn.Close()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// equal compares a credential in constant time.
func equal(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// newMessage is a message for service from r, arrived now.
func newMessage(service string, r *http.Request, raw []byte, title, text string) Message {
	return Message{
		Service: service,
		Path:    r.URL.Path,
		Title:   title,
		Text:    text,
		Header:  r.Header.Clone(),
		Raw:     raw,
		At:      time.Now(),
	}
}
