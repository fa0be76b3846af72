package fakecf

import (
	"io"
	"net/http"
	"strings"
	"time"
)

// maxBody bounds what the server reads of a request body.
const maxBody = 1 << 20

// ServeHTTP answers one API request: down, latency and queued faults first,
// then authentication, routing and the endpoint itself.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxBody))

	s.mu.Lock()
	s.stats.Requests++
	idx := len(s.requests)
	s.requests = append(s.requests, Request{
		At:     time.Now(),
		Method: r.Method,
		Path:   r.URL.Path,
		Query:  r.URL.RawQuery,
		Auth:   authScheme(r),
		Body:   string(body),
	})
	down, latency := s.down, s.latency
	s.mu.Unlock()

	if down {
		s.dropped()
		drop(w)
		return
	}
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			s.mu.Lock()
			s.stats.Canceled++
			s.mu.Unlock()
			return
		}
		s.mu.Lock()
		down = s.down
		s.mu.Unlock()
		if down {
			s.dropped()
			drop(w)
			return
		}
	}

	a := newAnswer()
	s.mu.Lock()
	a.Header().Set("Date", s.now().Format(http.TimeFormat))
	s.handle(a, r, body)
	s.requests[idx].Status = a.status
	switch {
	case a.status != http.StatusOK:
		s.stats.Failures[a.status]++
	case r.Method == http.MethodGet:
		s.stats.Reads++
	default:
		s.stats.Writes++
	}
	s.mu.Unlock()
	a.copyTo(w)
}

func (s *Server) dropped() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Dropped++
}

// handle answers a request into a. s.mu must be held.
func (s *Server) handle(a *answer, r *http.Request, body []byte) {
	if f, ok := s.nextFault(); ok {
		writeFault(a, r, f)
		return
	}
	if status, errs := s.authenticate(r); status != 0 {
		writeError(a, status, errs...)
		return
	}

	seg, ok := route(r.URL.Path)
	if !ok {
		writeError(a, http.StatusNotFound, noRoute(r.URL.Path)...)
		return
	}
	switch len(seg) {
	case 0: // /zones
		if r.Method != http.MethodGet {
			writeError(a, http.StatusMethodNotAllowed, errMethodNotAllowed)
			return
		}
		s.listZones(a, r)
		return
	}

	z, ok := s.zones[seg[0]]
	if !ok {
		writeError(a, http.StatusNotFound, noRoute(r.URL.Path)...)
		return
	}
	switch {
	case len(seg) == 1: // /zones/{id}
		if r.Method != http.MethodGet {
			writeError(a, http.StatusMethodNotAllowed, errMethodNotAllowed)
			return
		}
		writeResult(a, s.zoneJSON(z), nil)
	case len(seg) == 2 && seg[1] == "dns_records":
		if r.Method != http.MethodGet {
			writeError(a, http.StatusMethodNotAllowed, errMethodNotAllowed)
			return
		}
		s.listRecords(a, r, z)
	case len(seg) == 3 && seg[1] == "dns_records" && seg[2] == "batch":
		if r.Method != http.MethodPost {
			writeError(a, http.StatusMethodNotAllowed, errMethodNotAllowed)
			return
		}
		s.batch(a, z, body)
	case len(seg) == 3 && seg[1] == "dns_records":
		rec, ok := s.records[seg[2]]
		if !ok || rec.zoneID != z.id {
			writeError(a, http.StatusNotFound, errRecordNotFound)
			return
		}
		switch r.Method {
		case http.MethodGet:
			writeResult(a, s.recordJSON(rec), nil)
		case http.MethodPatch:
			s.updateRecord(a, z, rec, body, false)
		case http.MethodPut:
			s.updateRecord(a, z, rec, body, true)
		default:
			writeError(a, http.StatusMethodNotAllowed, errMethodNotAllowed)
		}
	default:
		writeError(a, http.StatusNotFound, noRoute(r.URL.Path)...)
	}
}

// route returns the path's segments after "zones": none for /zones, the
// zone id, then "dns_records" and a record id. Whatever precedes "/zones"
// is the base and is ignored.
func route(path string) ([]string, bool) {
	i := strings.Index(path+"/", "/zones/")
	if i < 0 {
		return nil, false
	}
	rest := strings.Trim(path[i+len("/zones"):], "/")
	if rest == "" {
		return nil, true
	}
	seg := strings.Split(rest, "/")
	for _, s := range seg {
		if s == "" {
			return nil, false
		}
	}
	return seg, true
}

// authScheme names the credentials a request carries, for the request log.
func authScheme(r *http.Request) string {
	switch {
	case r.Header.Get("Authorization") != "":
		return "token"
	case r.Header.Get("X-Auth-Key") != "" || r.Header.Get("X-Auth-Email") != "":
		return "key"
	}
	return ""
}

// authenticate checks the request's credentials as the API does; status 0
// means they are accepted. With neither a token nor a key configured, any
// well-formed credentials are. s.mu must be held.
func (s *Server) authenticate(r *http.Request) (int, []apiError) {
	open := s.token == "" && s.key == ""
	authz := r.Header.Get("Authorization")
	key, email := r.Header.Get("X-Auth-Key"), r.Header.Get("X-Auth-Email")
	switch {
	case authz != "":
		tok, ok := strings.CutPrefix(authz, "Bearer ")
		if !ok || tok == "" || strings.ContainsAny(tok, " \t") {
			return http.StatusBadRequest, []apiError{errBadAuthHeader}
		}
		if open || (s.token != "" && tok == s.token) {
			return 0, nil
		}
		return http.StatusForbidden, []apiError{errInvalidToken}
	case key != "" || email != "":
		if key == "" {
			return http.StatusBadRequest, []apiError{errMissingKey}
		}
		if email == "" {
			return http.StatusBadRequest, []apiError{errMissingEmail}
		}
		if open || (s.key != "" && key == s.key && strings.EqualFold(email, s.email)) {
			return 0, nil
		}
		return http.StatusForbidden, []apiError{errUnknownKey}
	}
	return http.StatusBadRequest, []apiError{errMissingEmail, errMissingKey}
}
