package fakechat

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// ntfyTopic is what ntfy accepts as a topic name.
var ntfyTopic = regexp.MustCompile(`^[-_A-Za-z0-9]{1,64}$`)

// ntfyError is ntfy's error body.
type ntfyError struct {
	Code     int    `json:"code,omitempty"`
	HTTPCode int    `json:"http"`
	Message  string `json:"error"`
	Link     string `json:"link,omitempty"`
}

// ntfy's errors, as its server defines them.
var (
	ntfyBadRequestJSON     = ntfyError{40017, http.StatusBadRequest, "invalid request: request body must be message JSON", "https://ntfy.sh/docs/publish/#publish-as-json"}
	ntfyBadRequestPriority = ntfyError{40007, http.StatusBadRequest, "invalid priority parameter", "https://ntfy.sh/docs/publish/#message-priority"}
	ntfyBadRequestTopic    = ntfyError{40009, http.StatusBadRequest, "invalid request: topic invalid", ""}
	ntfyBadRequestNotUTF8  = ntfyError{40011, http.StatusBadRequest, "invalid message: message must be UTF-8 encoded", ""}
	ntfyNotFound           = ntfyError{40401, http.StatusNotFound, "page not found", ""}
	ntfyUnauthorized       = ntfyError{40101, http.StatusUnauthorized, "unauthorized", "https://ntfy.sh/docs/publish/#authentication"}
	ntfyForbidden          = ntfyError{40301, http.StatusForbidden, "forbidden", "https://ntfy.sh/docs/publish/#authentication"}
	ntfyTooLarge           = ntfyError{41303, http.StatusRequestEntityTooLarge, "JSON body too large", ""}
	ntfyTooManyRequests    = ntfyError{42901, http.StatusTooManyRequests, "limit reached: too many requests, please be nice", "https://ntfy.sh/docs/publish/#limitations"}
	ntfyInternal           = ntfyError{50001, http.StatusInternalServerError, "internal server error", ""}
)

// ntfyErrorFor is the error ntfy answers with status.
func ntfyErrorFor(status int) ntfyError {
	for _, e := range []ntfyError{ntfyBadRequestJSON, ntfyUnauthorized, ntfyForbidden, ntfyNotFound, ntfyTooManyRequests, ntfyInternal} {
		if e.HTTPCode == status {
			return e
		}
	}
	return ntfyError{Code: status*100 + 1, HTTPCode: status, Message: strings.ToLower(http.StatusText(status))}
}

func ntfyFail(w http.ResponseWriter, e ntfyError) {
	writeJSON(w, e.HTTPCode, e)
}

// ntfyMessage is the message object ntfy answers a publish with.
type ntfyMessage struct {
	ID       string   `json:"id"`
	Time     int64    `json:"time"`
	Expires  int64    `json:"expires"`
	Event    string   `json:"event"`
	Topic    string   `json:"topic"`
	Title    string   `json:"title,omitempty"`
	Message  string   `json:"message"`
	Priority int      `json:"priority,omitempty"`
	Tags     []string `json:"tags,omitempty"`
}

// ntfyJSON is the body of a publish as JSON, to the root.
type ntfyJSON struct {
	Topic    string   `json:"topic"`
	Title    string   `json:"title"`
	Message  string   `json:"message"`
	Priority int      `json:"priority"`
	Tags     []string `json:"tags"`
}

// ntfy handles a publish: POST or PUT to /<topic> with the message as the
// body and the rest in headers or the query, or POST to / with JSON.
func (s *Server) ntfy(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/")
	if path == "v1/health" && r.Method == http.MethodGet {
		writeJSON(w, http.StatusOK, map[string]bool{"healthy": true})
		return
	}
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		ntfyFail(w, ntfyNotFound)
		return
	}
	if path != "" && !ntfyTopic.MatchString(path) {
		ntfyFail(w, ntfyNotFound)
		return
	}
	if e, ok := s.ntfyAuthorized(r); !ok {
		ntfyFail(w, e)
		return
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		ntfyFail(w, ntfyTooLarge)
		return
	}

	m := ntfyMessage{Event: "message", Topic: path}
	if path == "" {
		var j ntfyJSON
		if err := json.Unmarshal(raw, &j); err != nil {
			ntfyFail(w, ntfyBadRequestJSON)
			return
		}
		if !ntfyTopic.MatchString(j.Topic) {
			ntfyFail(w, ntfyBadRequestTopic)
			return
		}
		if j.Priority < 0 || j.Priority > 5 {
			ntfyFail(w, ntfyBadRequestPriority)
			return
		}
		m.Topic, m.Title, m.Message, m.Priority, m.Tags = j.Topic, j.Title, j.Message, j.Priority, j.Tags
	} else {
		if !utf8.Valid(raw) {
			ntfyFail(w, ntfyBadRequestNotUTF8)
			return
		}
		m.Message = string(raw)
		if m.Message == "" {
			m.Message = ntfyParam(r, "x-message", "message", "m")
		}
		m.Title = ntfyParam(r, "x-title", "title", "ti", "t")
		p, ok := ntfyPriority(ntfyParam(r, "x-priority", "priority", "prio", "p"))
		if !ok {
			ntfyFail(w, ntfyBadRequestPriority)
			return
		}
		m.Priority = p
		for t := range strings.SplitSeq(ntfyParam(r, "x-tags", "tags", "tag", "ta"), ",") {
			if t = strings.TrimSpace(t); t != "" {
				m.Tags = append(m.Tags, t)
			}
		}
	}
	if m.Message == "" {
		m.Message = "triggered"
	}
	now := time.Now()
	m.ID = fmt.Sprintf("fakechat%04d", s.nextID())
	m.Time = now.Unix()
	m.Expires = now.Add(12 * time.Hour).Unix()

	s.record(newMessage(Ntfy, r, raw, m.Title, m.Message))
	writeJSON(w, http.StatusOK, m)
}

// ntfyAuthorized checks r's credentials when the server requires some:
// none is forbidden, wrong ones unauthorized.
func (s *Server) ntfyAuthorized(r *http.Request) (ntfyError, bool) {
	c := s.cfg
	if c.NtfyUser == "" && c.NtfyPassword == "" && c.NtfyToken == "" {
		return ntfyError{}, true
	}
	h := r.Header.Get("Authorization")
	if h == "" {
		return ntfyForbidden, false
	}
	if user, pass, ok := r.BasicAuth(); ok {
		if (c.NtfyUser != "" || c.NtfyPassword != "") && equal(user, c.NtfyUser) && equal(pass, c.NtfyPassword) {
			return ntfyError{}, true
		}
		if c.NtfyToken != "" && user == "" && equal(pass, c.NtfyToken) {
			return ntfyError{}, true
		}
		return ntfyUnauthorized, false
	}
	if tok, ok := strings.CutPrefix(h, "Bearer "); ok && c.NtfyToken != "" && equal(tok, c.NtfyToken) {
		return ntfyError{}, true
	}
	return ntfyUnauthorized, false
}

// ntfyParam is the first of names set as a header or in the query.
func ntfyParam(r *http.Request, names ...string) string {
	for _, n := range names {
		if v := r.Header.Get(n); v != "" {
			return v
		}
	}
	q := r.URL.Query()
	for _, n := range names {
		if v := q.Get(n); v != "" {
			return v
		}
	}
	return ""
}

// ntfyPriority reads a priority as ntfy does; empty is 0, not set.
func ntfyPriority(v string) (int, bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "":
		return 0, true
	case "1", "min":
		return 1, true
	case "2", "low":
		return 2, true
	case "3", "default":
		return 3, true
	case "4", "high":
		return 4, true
	case "5", "max", "urgent":
		return 5, true
	}
	return 0, false
}
