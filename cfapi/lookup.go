package cfapi

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/cloudflare/cloudflare-go"
	"golang.org/x/net/idna"
)

// zone returns the zone id, looking the zone up by name on first use.
func (c *Client) zone(ctx context.Context) (string, error) {
	c.mu.Lock()
	id := c.zoneID
	c.mu.Unlock()
	if id != "" {
		return id, nil
	}

	const op = "find zone"
	ctx, x := withExchange(ctx)
	res, err := c.api.ListZonesContext(ctx, cloudflare.WithZoneFilters(c.zoneName, "", ""))
	if err != nil {
		return "", c.convert(op, x, err)
	}
	if !res.Success {
		return "", c.unsuccessful(op, res.Errors)
	}
	var ids []string
	for _, z := range res.Result {
		if normName(z.Name) == c.zoneName {
			ids = append(ids, z.ID)
		}
	}
	switch len(ids) {
	case 0:
		return "", fmt.Errorf("%s %s: %w", op, c.zoneName, ErrNotFound)
	case 1:
	default:
		return "", fmt.Errorf("%s %s: %w (%d zones of that name; set the zone id)", op, c.zoneName, ErrAmbiguous, len(ids))
	}
	c.mu.Lock()
	c.zoneID = ids[0]
	c.mu.Unlock()
	c.log.Debug("zone found", "zone", c.zoneName, "zone_id", ids[0])
	return ids[0], nil
}

func (c *Client) getByID(ctx context.Context, zoneID, rid string) (Record, error) {
	ctx, x := withExchange(ctx)
	r, err := c.api.GetDNSRecord(ctx, cloudflare.ZoneIdentifier(zoneID), rid)
	if err != nil {
		return Record{}, c.convert("get record", x, err)
	}
	return toRecord(r, zoneID, x), nil
}

// find lists the records of the configured name (and type) and caches the
// id of the one that fits.
func (c *Client) find(ctx context.Context, zoneID string) (Record, error) {
	const op = "find record"
	ctx, x := withExchange(ctx)
	params := cloudflare.ListDNSRecordsParams{Name: c.name, Type: c.typ}
	params.PerPage = 100 // one page, one request
	list, _, err := c.api.ListDNSRecords(ctx, cloudflare.ZoneIdentifier(zoneID), params)
	if err != nil {
		return Record{}, c.convert(op, x, err)
	}
	return c.pick(op, list, zoneID, x)
}

// pick is the record of list that fits the configured name and type, whose
// id it caches; ErrNotFound or ErrAmbiguous if none or several fit.
func (c *Client) pick(op string, list []cloudflare.DNSRecord, zoneID string, x *exchange) (Record, error) {
	var found []cloudflare.DNSRecord
	var others []string
	for _, r := range list {
		switch {
		case c.wanted(r.Name, r.Type):
			found = append(found, r)
		case normName(r.Name) == c.name:
			others = append(others, r.Type)
		}
	}
	switch len(found) {
	case 0:
		if seen := c.seenType(); seen != "" && len(others) > 0 {
			return Record{}, fmt.Errorf("%s %s: %w (its type changed from %s to %s)", op, c.name, ErrNotFound, seen, strings.Join(others, ", "))
		}
		return Record{}, fmt.Errorf("%s %s%s: %w", op, c.name, c.typeSuffix(), ErrNotFound)
	case 1:
	default:
		types := make([]string, len(found))
		for i, r := range found {
			types[i] = r.Type
		}
		hint := "set the record type"
		if c.typ != "" {
			hint = "keep one record of that name and type"
		}
		return Record{}, fmt.Errorf("%s %s%s: %w (%s; %s)", op, c.name, c.typeSuffix(), ErrAmbiguous, strings.Join(types, ", "), hint)
	}
	rec := toRecord(found[0], zoneID, x)
	c.mu.Lock()
	c.recordID = rec.ID
	if c.typ == "" && c.firstType == "" {
		c.firstType = rec.Type
	}
	c.mu.Unlock()
	c.log.Debug("record found", "record", c.name, "type", rec.Type, "record_id", rec.ID)
	return rec, nil
}

// wanted reports whether a record of that name and type is the one kept:
// the configured type; without one, the type the record had when it was
// first found (a record whose type changes is not the one kept any more),
// or before that any A, AAAA or CNAME record.
func (c *Client) wanted(name, typ string) bool {
	if normName(name) != c.name {
		return false
	}
	if c.typ != "" {
		return typ == c.typ
	}
	if seen := c.seenType(); seen != "" {
		return typ == seen
	}
	return typ == "A" || typ == "AAAA" || typ == "CNAME"
}

// seenType is the type of the record when it was first found, if no type
// is configured.
func (c *Client) seenType() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.firstType
}

func (c *Client) typeSuffix() string {
	if c.typ == "" {
		return ""
	}
	return " (" + c.typ + ")"
}

func (c *Client) cachedRecord() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.recordID
}

func (c *Client) forgetZone(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.zoneID == id {
		c.zoneID, c.recordID = "", ""
	}
}

func (c *Client) forgetRecord(rid string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.recordID == rid {
		c.recordID = ""
	}
}

func toRecord(r cloudflare.DNSRecord, zoneID string, x *exchange) Record {
	rec := Record{
		ID:       r.ID,
		ZoneID:   zoneID,
		Name:     r.Name,
		Type:     r.Type,
		Content:  r.Content,
		TTL:      r.TTL,
		Proxied:  r.Proxied != nil && *r.Proxied,
		Modified: r.ModifiedOn,
	}
	if x != nil {
		rec.APIClock, rec.Asked, rec.Received = x.clock()
	}
	return rec
}

func recordPath(zoneID, rid string) string {
	return "/zones/" + url.PathEscape(zoneID) + "/dns_records/" + url.PathEscape(rid)
}

// idnaProfile converts names as cloudflare-go does before it sends them.
var idnaProfile = idna.New(idna.MapForLookup(), idna.StrictDomainName(false), idna.ValidateLabels(false))

// normName lower-cases a DNS name, drops a trailing dot and converts an
// internationalized name to its ASCII form.
func normName(name string) string {
	n := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), ".")
	if a, err := idnaProfile.ToASCII(n); err == nil {
		n = a
	}
	return n
}
