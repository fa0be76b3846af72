package fakepb

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// cat is the ASCII cat every Pushbullet error carries.
const cat = "~(=^‥^)ノ"

// apiError is the "error" member of an error body.
type apiError struct {
	Code    string `json:"code"`
	Type    string `json:"type"`
	Message string `json:"message"`
	Param   string `json:"param,omitempty"`
	Cat     string `json:"cat"`
}

type errorBody struct {
	Error     apiError `json:"error"`
	ErrorCode string   `json:"error_code"`
}

// fail answers status in Pushbullet's error shape and counts the rejection.
// An empty message takes the usual one for the status; param names the
// offending request field, if any.
func (s *Server) fail(w http.ResponseWriter, status int, message, param string) {
	s.mu.Lock()
	s.stats.Rejected[status]++
	resetAfter := s.resetAfter
	s.mu.Unlock()

	switch status {
	case http.StatusBadGateway, http.StatusGatewayTimeout:
		// An intermediate proxy answers, not Pushbullet: no JSON.
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		io.WriteString(w, "<html><body><h1>"+strconv.Itoa(status)+" "+http.StatusText(status)+"</h1></body></html>\n")
		return
	case http.StatusTooManyRequests:
		reset := time.Now().Add(resetAfter)
		secs := reset.Unix()
		if reset.Nanosecond() > 0 {
			secs++
		}
		w.Header().Set("X-Ratelimit-Remaining", "0")
		w.Header().Set("X-Ratelimit-Reset", strconv.FormatInt(secs, 10))
	}

	code, typ, msg := describe(status)
	if message != "" {
		msg = message
	}
	writeJSON(w, status, errorBody{
		Error:     apiError{Code: code, Type: typ, Message: msg, Param: param, Cat: cat},
		ErrorCode: code,
	})
}

// describe gives the code, type and message the API uses for status.
func describe(status int) (code, typ, message string) {
	switch status {
	case http.StatusBadRequest:
		return "invalid_request", "invalid_request", "Invalid request."
	case http.StatusUnauthorized:
		return "invalid_access_token", "invalid_request", "Access token is missing or invalid."
	case http.StatusForbidden:
		return "forbidden", "invalid_request", "The access token is not valid for that request."
	case http.StatusNotFound:
		return "not_found", "invalid_request", "The resource could not be found."
	case http.StatusTooManyRequests:
		return "too_many_requests", "invalid_request", "You have been ratelimited for making too many requests to the server."
	case http.StatusInternalServerError:
		return "internal_server_error", "server", "Internal server error."
	case http.StatusServiceUnavailable:
		return "service_unavailable", "server", "The service is temporarily unavailable."
	}
	text := http.StatusText(status)
	if text == "" {
		text = "Error " + strconv.Itoa(status)
	}
	typ = "invalid_request"
	if status >= 500 {
		typ = "server"
	}
	return strings.ReplaceAll(strings.ToLower(text), " ", "_"), typ, text + "."
}
