package fakepb

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// targetFields are the request fields that pick a push's receiver; at most
// one may be set.
var targetFields = []string{"device_iden", "email", "channel_tag", "client_iden"}

// pushRequest is the body of POST /pushes.
type pushRequest struct {
	Type       string `json:"type"`
	Title      string `json:"title"`
	Body       string `json:"body"`
	URL        string `json:"url"`
	GUID       string `json:"guid"`
	DeviceIden string `json:"device_iden"`
	Email      string `json:"email"`
	ChannelTag string `json:"channel_tag"`
	ClientIden string `json:"client_iden"`
}

func (p *pushRequest) target() map[string]string {
	t := make(map[string]string)
	for k, v := range map[string]string{
		"device_iden": p.DeviceIden,
		"email":       p.Email,
		"channel_tag": p.ChannelTag,
		"client_iden": p.ClientIden,
	} {
		if v != "" {
			t[k] = v
		}
	}
	if len(t) == 0 {
		return nil
	}
	return t
}

// ServeHTTP answers one request: faults first (down, latency, FailNext),
// then authentication, then the pushes route.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.stats.Requests++
	requests := s.stats.Requests
	down, latency := s.down, s.latency
	s.mu.Unlock()

	if down {
		s.count(func(st *Stats) { st.Dropped++ })
		hangUp(w)
		return
	}
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			s.count(func(st *Stats) { st.Canceled++ })
			return
		}
	}

	h := w.Header()
	h.Set("X-Ratelimit-Limit", strconv.Itoa(RateLimit))
	h.Set("X-Ratelimit-Remaining", strconv.Itoa(max(RateLimit-requests, 0)))
	h.Set("X-Ratelimit-Reset", strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10))

	if status, ok := s.takeFault(); ok {
		s.fail(w, status, "", "")
		return
	}
	if !s.authorized(r) {
		s.fail(w, http.StatusUnauthorized, "", "")
		return
	}
	if !strings.HasSuffix(r.URL.Path, "/pushes") {
		s.fail(w, http.StatusNotFound, "", "")
		return
	}
	switch r.Method {
	case http.MethodPost:
		s.create(w, r)
	case http.MethodGet:
		s.list(w)
	default:
		w.Header().Set("Allow", "GET, POST")
		s.fail(w, http.StatusMethodNotAllowed, "", "")
	}
}

// create handles POST /pushes.
func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		s.fail(w, http.StatusBadRequest, "Request body must be JSON with Content-Type application/json.", "")
		return
	}
	var req pushRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	if err := dec.Decode(&req); err != nil {
		s.fail(w, http.StatusBadRequest, "Failed to decode JSON body.", "")
		return
	}
	switch req.Type {
	case "note", "link":
	case "":
		s.fail(w, http.StatusBadRequest, "Missing required parameter 'type'.", "type")
		return
	default:
		s.fail(w, http.StatusBadRequest, "The param 'type' has an invalid value.", "type")
		return
	}
	target := req.target()
	if len(target) > 1 {
		s.fail(w, http.StatusBadRequest, "Only one target may be specified (one of "+strings.Join(targetFields, ", ")+").", "")
		return
	}

	s.mu.Lock()
	i, seen := s.byGUID[req.GUID]
	if !seen || req.GUID == "" {
		i = len(s.pushes)
		s.pushes = append(s.pushes, record{
			iden:   fmt.Sprintf("%ssj%011d", AccountIden, i+1),
			at:     time.Now(),
			typ:    req.Type,
			title:  req.Title,
			body:   req.Body,
			url:    req.URL,
			guid:   req.GUID,
			target: target,
		})
		if req.GUID != "" {
			s.byGUID[req.GUID] = i
		}
	}
	obj := s.pushes[i].object()
	s.stats.Accepted++
	s.mu.Unlock()

	writeJSON(w, http.StatusOK, obj)
}

// list handles GET /pushes: every push, newest first, as the API lists them.
func (s *Server) list(w http.ResponseWriter) {
	s.mu.Lock()
	objs := make([]pushObject, 0, len(s.pushes))
	for i := len(s.pushes) - 1; i >= 0; i-- {
		objs = append(objs, s.pushes[i].object())
	}
	s.stats.Accepted++
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, struct {
		Pushes []pushObject `json:"pushes"`
	}{objs})
}

// authorized reports whether r carries the server's token.
func (s *Server) authorized(r *http.Request) bool {
	got := r.Header.Get("Access-Token")
	if got == "" {
		if b, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			got = b
		}
	}
	if got == "" {
		return false
	}
	if s.token == "" {
		return true
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(s.token)) == 1
}

// takeFault consumes one injected failure, if any is left.
func (s *Server) takeFault() (status int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failN == 0 {
		return 0, false
	}
	s.failN--
	return s.failStatus, true
}

func (s *Server) count(f func(*Stats)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.stats)
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
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
