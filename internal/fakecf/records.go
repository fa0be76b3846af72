package fakecf

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// zoneJSON is a zone as GET /zones and GET /zones/{id} answer it.
type zoneJSON struct {
	ID                  string    `json:"id"`
	Name                string    `json:"name"`
	Status              string    `json:"status"`
	Paused              bool      `json:"paused"`
	Type                string    `json:"type"`
	DevelopmentMode     int       `json:"development_mode"`
	NameServers         []string  `json:"name_servers"`
	OriginalNameServers []string  `json:"original_name_servers"`
	OriginalRegistrar   *string   `json:"original_registrar"`
	OriginalDNSHost     *string   `json:"original_dnshost"`
	ModifiedOn          time.Time `json:"modified_on"`
	CreatedOn           time.Time `json:"created_on"`
	ActivatedOn         time.Time `json:"activated_on"`
	Meta                struct {
		Step                   int  `json:"step"`
		CustomCertificateQuota int  `json:"custom_certificate_quota"`
		PageRuleQuota          int  `json:"page_rule_quota"`
		PhishingDetected       bool `json:"phishing_detected"`
	} `json:"meta"`
	Owner struct {
		ID    *string `json:"id"`
		Type  string  `json:"type"`
		Email *string `json:"email"`
	} `json:"owner"`
	Account struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"account"`
	Permissions []string `json:"permissions"`
	Plan        struct {
		ID                string `json:"id"`
		Name              string `json:"name"`
		Price             int    `json:"price"`
		Currency          string `json:"currency"`
		Frequency         string `json:"frequency"`
		IsSubscribed      bool   `json:"is_subscribed"`
		CanSubscribe      bool   `json:"can_subscribe"`
		LegacyID          string `json:"legacy_id"`
		LegacyDiscount    bool   `json:"legacy_discount"`
		ExternallyManaged bool   `json:"externally_managed"`
	} `json:"plan"`
}

// recordJSON is a DNS record as the dns_records endpoints answer it.
type recordJSON struct {
	ID        string   `json:"id"`
	ZoneID    string   `json:"zone_id"`
	ZoneName  string   `json:"zone_name"`
	Name      string   `json:"name"`
	Type      string   `json:"type"`
	Content   string   `json:"content"`
	Proxiable bool     `json:"proxiable"`
	Proxied   bool     `json:"proxied"`
	TTL       int      `json:"ttl"`
	Settings  struct{} `json:"settings"`
	Meta      struct {
		AutoAdded           bool `json:"auto_added"`
		ManagedByApps       bool `json:"managed_by_apps"`
		ManagedByArgoTunnel bool `json:"managed_by_argo_tunnel"`
	} `json:"meta"`
	Comment    *string   `json:"comment"`
	Tags       []string  `json:"tags"`
	CreatedOn  time.Time `json:"created_on"`
	ModifiedOn time.Time `json:"modified_on"`
}

func (s *Server) zoneJSON(z *zone) zoneJSON {
	var j zoneJSON
	j.ID, j.Name, j.Status, j.Type = z.id, z.name, "active", "full"
	j.NameServers = []string{"ada.ns.cloudflare.com", "bob.ns.cloudflare.com"}
	j.CreatedOn, j.ModifiedOn, j.ActivatedOn = z.created, z.created, z.created
	j.Meta.Step = 4
	j.Meta.PageRuleQuota = 3
	j.Owner.Type = "user"
	j.Account.ID = "023e105f4ecef8ad9ca31a8372d0c353"
	j.Account.Name = "Fake Account"
	j.Permissions = []string{"#dns_records:edit", "#dns_records:read", "#zone:read"}
	j.Plan.ID, j.Plan.Name, j.Plan.Currency, j.Plan.LegacyID = "0feeeeeeeeeeeeeeeeeeeeeeeeeeeeee", "Free Website", "USD", "free"
	j.Plan.IsSubscribed = true
	return j
}

func (s *Server) recordJSON(rec *record) recordJSON {
	j := recordJSON{
		ID:         rec.id,
		ZoneID:     rec.zoneID,
		ZoneName:   s.zones[rec.zoneID].name,
		Name:       rec.Name,
		Type:       rec.Type,
		Content:    rec.Content,
		Proxiable:  rec.Type == "A" || rec.Type == "AAAA" || rec.Type == "CNAME",
		Proxied:    rec.Proxied,
		TTL:        rec.TTL,
		Tags:       slices.Clone(rec.Tags),
		CreatedOn:  rec.created,
		ModifiedOn: rec.modified,
	}
	if rec.Comment != "" {
		c := rec.Comment
		j.Comment = &c
	}
	if j.Tags == nil {
		j.Tags = []string{}
	}
	return j
}

// page applies page and per_page to n items: the bounds of the slice to
// answer and the result_info block. per_page is clamped to [5, limit].
func page(q url.Values, n, def, limit int) (lo, hi int, info *resultInfo) {
	p, _ := strconv.Atoi(q.Get("page"))
	if p < 1 {
		p = 1
	}
	per, err := strconv.Atoi(q.Get("per_page"))
	if err != nil || per < 1 {
		per = def
	}
	per = min(max(per, 5), limit)
	lo = min((p-1)*per, n)
	hi = min(lo+per, n)
	return lo, hi, &resultInfo{
		Page:       p,
		PerPage:    per,
		Count:      hi - lo,
		TotalCount: n,
		TotalPages: (n + per - 1) / per,
	}
}

// listZones answers GET /zones: name is an exact match; status, order,
// direction, match and account.* are accepted (every zone is active).
func (s *Server) listZones(a *answer, r *http.Request) {
	q := r.URL.Query()
	name := normName(q.Get("name"))
	status := q.Get("status")
	var found []zoneJSON
	for _, id := range s.zoneIDs {
		z := s.zones[id]
		if name != "" && z.name != name {
			continue
		}
		if status != "" && status != "active" {
			continue
		}
		found = append(found, s.zoneJSON(z))
	}
	lo, hi, info := page(q, len(found), 20, 50)
	writeResult(a, nonNil(found[lo:hi]), info)
}

// listRecords answers GET /zones/{id}/dns_records: name (or name.exact) is
// an exact, case-insensitive match, type and content exact; other filters
// are accepted and ignored.
func (s *Server) listRecords(a *answer, r *http.Request, z *zone) {
	q := r.URL.Query()
	name := q.Get("name")
	if name == "" {
		name = q.Get("name.exact")
	}
	if name != "" {
		name = normName(name)
	}
	typ := strings.ToUpper(q.Get("type"))
	content := q.Get("content")
	if content == "" {
		content = q.Get("content.exact")
	}
	var found []recordJSON
	for _, id := range s.recIDs {
		rec := s.records[id]
		if rec.zoneID != z.id ||
			(name != "" && rec.Name != name) ||
			(typ != "" && rec.Type != typ) ||
			(content != "" && rec.Content != content) {
			continue
		}
		found = append(found, s.recordJSON(rec))
	}
	lo, hi, info := page(q, len(found), 100, 5000)
	writeResult(a, nonNil(found[lo:hi]), info)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// updateRecord answers PATCH (only the fields sent change) and PUT (the
// record is replaced: name, type and content are required, the rest
// defaults). A "comment" of null clears the comment; "tags" of null keeps
// the tags on PATCH.
func (s *Server) updateRecord(a *answer, z *zone, rec *record, body []byte, replace bool) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		writeError(a, http.StatusBadRequest, errMalformedJSON)
		return
	}
	next, e, ok := s.changed(z, rec, fields, replace)
	if !ok {
		writeError(a, http.StatusBadRequest, e)
		return
	}
	now := time.Now().UTC()
	s.commit(rec, next, now)
	writeResult(a, s.recordJSON(rec), nil)
}

// commit makes next the record's state as of now.
func (s *Server) commit(rec *record, next Record, now time.Time) {
	rec.Record = next
	rec.modified = now
	s.writes = append(s.writes, Write{At: now, RecordID: rec.id, Content: next.Content})
}

// batch answers POST /zones/{id}/dns_records/batch with patches, as one
// transaction: every patch is checked first, and one that fails fails the
// batch, with nothing written. Deletes, puts and posts are refused: the
// stand-in serves what clooster sends.
func (s *Server) batch(a *answer, z *zone, body []byte) {
	var req map[string][]map[string]json.RawMessage
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(a, http.StatusBadRequest, errMalformedJSON)
		return
	}
	for k, v := range req {
		if k != "patches" && len(v) > 0 {
			writeError(a, http.StatusBadRequest, validation(9000, "the stand-in's batch takes patches only, not "+k))
			return
		}
	}
	type change struct {
		rec  *record
		next Record
	}
	var changes []change
	for _, fields := range req["patches"] {
		var id string
		if raw, ok := fields["id"]; !ok || json.Unmarshal(raw, &id) != nil {
			writeError(a, http.StatusBadRequest, validation(9000, "id is required"))
			return
		}
		rec, ok := s.records[id]
		if !ok || rec.zoneID != z.id {
			writeError(a, http.StatusBadRequest, errRecordNotFound)
			return
		}
		next, e, ok := s.changed(z, rec, fields, false)
		if !ok {
			writeError(a, http.StatusBadRequest, e)
			return
		}
		changes = append(changes, change{rec, next})
	}
	now := time.Now().UTC()
	patched := []recordJSON{}
	for _, c := range changes {
		s.commit(c.rec, c.next, now)
		patched = append(patched, s.recordJSON(c.rec))
	}
	s.stats.Batches++
	writeResult(a, map[string]any{"deletes": []any{}, "patches": patched, "puts": []any{}, "posts": []any{}}, nil)
}

// changed is rec with fields applied (PATCH, or PUT when replace), or the
// error the API would give.
func (s *Server) changed(z *zone, rec *record, fields map[string]json.RawMessage, replace bool) (Record, apiError, bool) {
	if s.refused[rec.id] {
		return Record{}, validation(9005, "Content for "+rec.Type+" record is invalid."), false
	}
	next := rec.Record
	next.Tags = slices.Clone(rec.Tags)
	if replace {
		for _, k := range []string{"name", "type", "content"} {
			if _, ok := fields[k]; !ok {
				return Record{}, validation(9000, k+" is required"), false
			}
		}
		next = Record{TTL: 1}
	}

	for k, raw := range fields {
		isNull := bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
		var err error
		switch k {
		case "name":
			err = json.Unmarshal(raw, &next.Name)
		case "type":
			err = json.Unmarshal(raw, &next.Type)
		case "content":
			err = json.Unmarshal(raw, &next.Content)
		case "ttl":
			err = json.Unmarshal(raw, &next.TTL)
		case "proxied":
			err = json.Unmarshal(raw, &next.Proxied)
		case "comment":
			next.Comment = ""
			if !isNull {
				err = json.Unmarshal(raw, &next.Comment)
			}
		case "tags":
			if !isNull {
				next.Tags = nil
				err = json.Unmarshal(raw, &next.Tags)
			}
		default: // settings, priority, data, id, ...: accepted as the API does
		}
		if err != nil {
			return Record{}, validation(9000, "invalid value for "+k), false
		}
	}

	next.Name = fullName(next.Name, z.name)
	next.Type = strings.ToUpper(next.Type)
	if e, ok := check(next); !ok {
		return Record{}, e, false
	}
	return next, apiError{}, true
}

// check validates a record as the API does for the fields clooster
// touches.
func check(r Record) (apiError, bool) {
	if r.TTL != 1 && (r.TTL < 30 || r.TTL > 86400) {
		return validation(9021, "Invalid TTL. Must be between 60 and 86400 seconds, or 1 for Automatic."), false
	}
	switch r.Type {
	case "":
		return validation(9000, "type is required"), false
	case "A":
		if ip, err := netip.ParseAddr(r.Content); err != nil || !ip.Is4() {
			return validation(9005, "Content for A record must be a valid IPv4 address."), false
		}
	case "AAAA":
		if ip, err := netip.ParseAddr(r.Content); err != nil || !ip.Is6() || ip.Is4In6() {
			return validation(9006, "Content for AAAA record must be a valid IPv6 address."), false
		}
	case "CNAME":
		if r.Content == "" || strings.ContainsAny(r.Content, " \t/") {
			return validation(9007, "Content for CNAME record is invalid."), false
		}
	}
	return apiError{}, true
}
