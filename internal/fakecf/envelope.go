package fakecf

import (
	"bytes"
	"encoding/json"
	"net/http"
)

// apiError is one entry of the envelope's "errors" array.
type apiError struct {
	Code       int        `json:"code"`
	Message    string     `json:"message"`
	ErrorChain []apiError `json:"error_chain,omitempty"`
}

// resultInfo is the paging block of list answers.
type resultInfo struct {
	Page       int `json:"page"`
	PerPage    int `json:"per_page"`
	Count      int `json:"count"`
	TotalCount int `json:"total_count"`
	TotalPages int `json:"total_pages"`
}

// envelope is the v4 API's answer shape, for success and failure alike.
type envelope struct {
	Success    bool        `json:"success"`
	Errors     []apiError  `json:"errors"`
	Messages   []apiError  `json:"messages"`
	Result     any         `json:"result"`
	ResultInfo *resultInfo `json:"result_info,omitempty"`
}

// The errors the real API answers, by situation.
var (
	errAuthentication   = apiError{10000, "Authentication error", nil}
	errInvalidToken     = apiError{9109, "Invalid access token", nil}
	errUnknownKey       = apiError{9103, "Unknown X-Auth-Key or X-Auth-Email", nil}
	errMissingEmail     = apiError{9106, "Missing X-Auth-Email header", nil}
	errMissingKey       = apiError{9107, "Missing X-Auth-Key header", nil}
	errBadAuthHeader    = apiError{6003, "Invalid request headers", []apiError{{6111, "Invalid format for Authorization header", nil}}}
	errMalformedJSON    = apiError{6007, "Malformed JSON in request body", nil}
	errRecordNotFound   = apiError{81044, "Record does not exist.", nil}
	errMethodNotAllowed = apiError{7001, "Method not allowed", nil}
)

// noRoute is the API's answer to a path it cannot route, an unknown zone id
// included.
func noRoute(path string) []apiError {
	return []apiError{
		{7003, "Could not route to " + path + ", perhaps your object identifier is invalid?", nil},
		{7000, "No route for that URI", nil},
	}
}

// validation is the API's answer to a record it refuses.
func validation(code int, msg string) apiError {
	return apiError{1004, "DNS Validation Error", []apiError{{code, msg, nil}}}
}

func writeJSON(w http.ResponseWriter, status int, env envelope) {
	if env.Errors == nil {
		env.Errors = []apiError{}
	}
	if env.Messages == nil {
		env.Messages = []apiError{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(env); err != nil {
		panic("fakecf: encode answer: " + err.Error())
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cf-Ray", newID()[:16]+"-FAK")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func writeError(w http.ResponseWriter, status int, errs ...apiError) {
	writeJSON(w, status, envelope{Success: false, Errors: errs})
}

func writeResult(w http.ResponseWriter, result any, info *resultInfo) {
	writeJSON(w, http.StatusOK, envelope{Success: true, Result: result, ResultInfo: info})
}

// answer buffers a response so that it is built under the server's lock and
// written after it is released.
type answer struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newAnswer() *answer { return &answer{header: make(http.Header)} }

func (a *answer) Header() http.Header { return a.header }

func (a *answer) Write(p []byte) (int, error) {
	if a.status == 0 {
		a.status = http.StatusOK
	}
	return a.body.Write(p)
}

func (a *answer) WriteHeader(status int) {
	if a.status == 0 {
		a.status = status
	}
}

func (a *answer) copyTo(w http.ResponseWriter) {
	for k, v := range a.header {
		w.Header()[k] = v
	}
	w.WriteHeader(a.status)
	w.Write(a.body.Bytes())
}
