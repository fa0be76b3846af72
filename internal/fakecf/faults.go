package fakecf

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// fault is a run of injected answers, consumed one request at a time.
type fault struct {
	n          int
	status     int
	retryAfter time.Duration // 429 only; < 0 means no Retry-After header
}

// FailNext makes the next n requests answer status with the body the real
// API (or its edge) gives for it: a JSON error envelope for 4xx and 500
// (401 and 403: code 10000 "Authentication error"; 404: code 7003 "Could
// not route to ..."; 429: code 971, without a Retry-After header), and the
// edge's HTML or plain-text page for 502, 503, 504 and 520 to 526.
// Faults queue in call order: FailNext(1, 500) then RateLimitNext(1, 7s)
// answers 500 first, then 429. Faults are served before authentication
// and routing, as the edge would. n <= 0 does nothing.
func (s *Server) FailNext(n int, status int) {
	s.addFault(fault{n: n, status: status, retryAfter: -1})
}

// RateLimitNext makes the next n requests answer 429 with code 971 and
// "Retry-After: <seconds>", rounded up to whole seconds.
func (s *Server) RateLimitNext(n int, retryAfter time.Duration) {
	if retryAfter < 0 {
		retryAfter = 0
	}
	s.addFault(fault{n: n, status: http.StatusTooManyRequests, retryAfter: retryAfter})
}

func (s *Server) addFault(f fault) {
	if f.n <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

// RefuseWrites makes every write to record id answer 400 with code 1004
// "DNS Validation Error", as the API refuses a content it finds invalid
// (on true), or accept them again (false). Reads still answer.
func (s *Server) RefuseWrites(id string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refused == nil {
		s.refused = map[string]bool{}
	}
	s.refused[id] = on
}

// SetLatency delays every answer by d. A client that gives up while it
// waits gets no answer and is counted in Stats.Canceled.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetDown makes the server drop every connection without an HTTP answer
// (down true) or answer again (false), as an unreachable API would look
// from the client: a read error, never a status.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// nextFault takes one answer from the fault queue; ok is false if it is
// empty. s.mu must be held.
func (s *Server) nextFault() (f fault, ok bool) {
	if len(s.faults) == 0 {
		return fault{}, false
	}
	f = s.faults[0]
	s.faults[0].n--
	if s.faults[0].n <= 0 {
		s.faults = s.faults[1:]
	}
	return f, true
}

// writeFault answers an injected fault.
func writeFault(w http.ResponseWriter, r *http.Request, f fault) {
	switch st := f.status; {
	case st == http.StatusTooManyRequests:
		if f.retryAfter >= 0 {
			secs := int64((f.retryAfter + time.Second - 1) / time.Second)
			w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
		}
		writeError(w, st, apiError{971, "Please wait and consider throttling your request speed", nil})
	case st == http.StatusUnauthorized || st == http.StatusForbidden:
		writeError(w, st, errAuthentication)
	case st == http.StatusNotFound:
		writeError(w, st, noRoute(r.URL.Path)...)
	case st == http.StatusBadRequest:
		writeError(w, st, apiError{9207, "Request body is invalid.", nil})
	case st == http.StatusBadGateway || st == http.StatusServiceUnavailable || st == http.StatusGatewayTimeout:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(st)
		text := fmt.Sprintf("%d %s", st, http.StatusText(st))
		fmt.Fprintf(w, "<html>\r\n<head><title>%s</title></head>\r\n<body>\r\n<center><h1>%s</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n", text, text)
	case st >= 520 && st <= 526:
		w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
		w.WriteHeader(st)
		fmt.Fprintf(w, "error code: %d", st)
	case st == http.StatusInternalServerError:
		writeError(w, st, apiError{1000, "Internal Server Error", nil})
	default:
		text := http.StatusText(st)
		if text == "" {
			text = "Error"
		}
		writeError(w, st, apiError{1000, text, nil})
	}
}

// drop closes the connection without an answer. When the connection cannot
// be hijacked (HTTP/2, a recorder) the handler aborts instead, which the
// server turns into a reset stream or a closed connection.
func drop(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}
