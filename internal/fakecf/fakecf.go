// Package fakecf is a local stand-in for the part of the Cloudflare v4 API
// that clooster uses: zones (list, details) and DNS records (list, details,
// PATCH, PUT), in the real JSON envelope, with the real status codes and
// error bodies, for unit tests, end-to-end tests with real processes, and the
// demo.
//
// A Server is an http.Handler. It answers under any base that is a plain
// prefix of "/zones": the server's root, or "/client/v4" as the real API is
// mounted. Requests must carry either "Authorization: Bearer <token>" or
// "X-Auth-Key" with "X-Auth-Email"; which credentials are accepted is set
// with SetToken and SetLegacyAuth (with neither set, any well-formed
// credentials pass). Faults are injected with FailNext, RateLimitNext,
// SetLatency and SetDown, and what happened is read back with Record,
// Writes, Requests and Stats.
//
// Concurrency: every method, ServeHTTP included, is safe for concurrent use.
// A Server owns no goroutine and needs no closing; the http.Server or
// httptest.Server that serves it is the caller's.
package fakecf

import (
	"crypto/rand"
	"encoding/hex"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// Record is a DNS record as tests set and read it. Name is the full name;
// AddRecord also takes a name relative to the zone ("www", or "@" for the
// apex). A TTL of 1 means "automatic".
type Record struct {
	Name    string
	Type    string
	Content string
	TTL     int
	Proxied bool
	Comment string
	Tags    []string
}

// Write is a successful PATCH or PUT of a record.
type Write struct {
	At       time.Time
	RecordID string
	Content  string // the content after the write
}

// Request is what the server saw of one request. Auth says which scheme
// the request used ("token", "key" or ""), never the secret.
type Request struct {
	At     time.Time
	Method string
	Path   string // as received, base included
	Query  string
	Auth   string
	Body   string
	Status int // 0 when the connection was dropped or the client gave up
}

// Stats counts what the server saw.
type Stats struct {
	Requests int         // every request that reached the handler
	Reads    int         // GETs answered 200
	Writes   int         // PATCHes and PUTs answered 200
	Batches  int         // batch requests answered 200
	Failures map[int]int // answers other than 200 by status, injected faults included
	Dropped  int         // connections closed without an answer while down
	Canceled int         // requests whose client gave up during the latency
}

// Server is a fake Cloudflare API. Create it with New.
type Server struct {
	mu       sync.Mutex
	token    string
	key      string
	email    string
	zones    map[string]*zone // by id
	zoneIDs  []string         // in creation order
	records  map[string]*record
	recIDs   []string // in creation order
	writes   []Write
	requests []Request
	faults   []fault
	latency  time.Duration
	down     bool
	skew     time.Duration   // of the API's clock: modified_on and Date
	refused  map[string]bool // record ids whose writes are refused
	stats    Stats
}

type zone struct {
	id      string
	name    string
	created time.Time
}

type record struct {
	Record
	id       string
	zoneID   string
	created  time.Time
	modified time.Time
}

// New returns an empty server: no zones, no records, no faults.
func New() *Server {
	return &Server{
		zones:   make(map[string]*zone),
		records: make(map[string]*record),
		stats:   Stats{Failures: make(map[int]int)},
	}
}

// SetClockSkew sets how far the API's clock is ahead of ours (behind, if
// negative): its modified_on stamps and its Date header follow it.
func (s *Server) SetClockSkew(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.skew = d
}

// now is the API's clock; s.mu must be held.
func (s *Server) now() time.Time { return time.Now().Add(s.skew).UTC() }

// SetToken makes the server accept "Authorization: Bearer token".
// An empty token withdraws it.
func (s *Server) SetToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = token
}

// SetLegacyAuth makes the server accept the global API key and account
// e-mail in X-Auth-Key and X-Auth-Email. Empty values withdraw them.
func (s *Server) SetLegacyAuth(key, email string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.key, s.email = key, email
}

// AddZone adds an active zone and returns its id (32 hex digits, as the
// real ids are).
func (s *Server) AddZone(name string) (id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id = newID()
	s.zones[id] = &zone{id: id, name: normName(name), created: time.Now().UTC()}
	s.zoneIDs = append(s.zoneIDs, id)
	return id
}

// AddRecord adds a record to a zone added with AddZone and returns its id.
// A relative name is completed with the zone's name; an empty Type is "A"
// and a TTL of 0 is 1 (automatic). It panics if the zone does not exist.
func (s *Server) AddRecord(zoneID string, r Record) (id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	z, ok := s.zones[zoneID]
	if !ok {
		panic("fakecf: AddRecord: no zone " + zoneID)
	}
	r.Name = fullName(r.Name, z.name)
	r.Type = strings.ToUpper(r.Type)
	if r.Type == "" {
		r.Type = "A"
	}
	if r.TTL == 0 {
		r.TTL = 1
	}
	r.Tags = slices.Clone(r.Tags)
	now := time.Now().UTC()
	id = newID()
	s.records[id] = &record{Record: r, id: id, zoneID: zoneID, created: now, modified: now}
	s.recIDs = append(s.recIDs, id)
	return id
}

// Record returns the current state of a record, or the zero Record if there
// is none with that id.
func (s *Server) Record(id string) Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.records[id]
	if !ok {
		return Record{}
	}
	r := rec.Record
	r.Tags = slices.Clone(r.Tags)
	return r
}

// DeleteRecord removes a record out of band, as an operator deleting it in
// the dashboard would.
func (s *Server) DeleteRecord(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.records, id)
	s.recIDs = slices.DeleteFunc(s.recIDs, func(r string) bool { return r == id })
}

// SetContent changes a record's content out of band, as an operator editing
// it in the dashboard would. It is not counted as a write.
func (s *Server) SetContent(id, content string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec, ok := s.records[id]; ok {
		rec.Content = content
		rec.modified = s.now()
	}
}

// Writes returns the successful PATCHes and PUTs, oldest first.
func (s *Server) Writes() []Write {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.writes)
}

// Requests returns every request the server saw, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Stats returns the counters so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Failures = maps.Clone(s.stats.Failures)
	return st
}

func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// normName lower-cases a DNS name and drops a trailing dot.
func normName(name string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), ".")
}

// fullName completes a name relative to the zone, as the API does.
func fullName(name, zoneName string) string {
	n := normName(name)
	switch {
	case n == "" || n == "@":
		return zoneName
	case n == zoneName || strings.HasSuffix(n, "."+zoneName):
		return n
	default:
		return n + "." + zoneName
	}
}
