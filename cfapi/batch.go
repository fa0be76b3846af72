package cfapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync"

	"github.com/cloudflare/cloudflare-go"
)

// listPage is the page size of a zone's listing: a zone of up to this many
// records is read in one request.
const listPage = 5000

// Batch reads and writes several records of one zone, one request for all
// of them each way: a listing of the zone's records, and the batch
// endpoint's patches (one transaction). Its members are Clients of records
// of that zone, with the same credentials and base URL; it uses the first
// one's connection, and counts each request there. A member not in the
// listing's first page, or not yet found, is read on its own.
//
// Concurrency: safe for concurrent use, as its members are.
type Batch struct {
	members []*Client
}

// NewBatch returns the batch of members, which must all be of one zone.
func NewBatch(members []*Client) *Batch { return &Batch{members: members} }

// ReadAll reads every member's record: recs[i] and errs[i] for member i,
// as Get would return them.
func (b *Batch) ReadAll(ctx context.Context) ([]Record, []error) {
	recs := make([]Record, len(b.members))
	errs := make([]error, len(b.members))
	lead := b.members[0]
	zoneID, err := lead.zone(ctx)
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
		return recs, errs
	}
	const op = "list records"
	lctx, x := withExchange(ctx)
	params := cloudflare.ListDNSRecordsParams{}
	params.PerPage = listPage
	list, info, err := lead.api.ListDNSRecords(lctx, cloudflare.ZoneIdentifier(zoneID), params)
	if err != nil {
		err = lead.convert(op, x, err)
		for i := range errs {
			errs[i] = err
		}
		return recs, errs
	}
	complete := info == nil || info.Total == 0 || info.Total <= len(list)
	var alone []int
	for i, m := range b.members {
		if m != lead {
			m.setZone(zoneID)
		}
		recs[i], errs[i] = m.pick("find record", list, zoneID, x)
		switch {
		case errs[i] == nil:
			m.stats.reads.Add(1)
		case errors.Is(errs[i], ErrNotFound) && !complete:
			alone = append(alone, i) // beyond the first page
		}
	}
	var wg sync.WaitGroup
	for _, i := range alone {
		wg.Go(func() { recs[i], errs[i] = b.members[i].Get(ctx) })
	}
	wg.Wait()
	return recs, errs
}

// WriteAll sets the content of member i to contents[i] for each i in
// contents, in one batch request, using the ids the last read found. If
// the API refuses the batch for what it holds (a 4xx other than 429 or an
// authentication failure: one invalid content fails the whole
// transaction), each member is written on its own, so that the others
// land and the error names the one refused. errs[i] is member i's error.
func (b *Batch) WriteAll(ctx context.Context, contents map[int]string) map[int]error {
	errs := make(map[int]error, len(contents))
	lead := b.members[0]
	type patch struct {
		ID      string `json:"id"`
		Content string `json:"content"`
	}
	var patches []patch
	var zoneID string
	for _, i := range slices.Sorted(maps.Keys(contents)) { // in the set's order
		content := contents[i]
		m := b.members[i]
		m.mu.Lock()
		zid, rid := m.zoneID, m.recordID
		m.mu.Unlock()
		if zid == "" || rid == "" {
			// Not found yet: written on its own, which finds it.
			_, errs[i] = m.SetContent(ctx, Record{}, content)
			continue
		}
		zoneID = zid
		patches = append(patches, patch{rid, content})
	}
	if len(patches) == 0 {
		return errs
	}
	const op = "batch"
	body, err := json.Marshal(struct {
		Patches []patch `json:"patches"`
	}{patches})
	if err != nil {
		return b.fail(contents, errs, fmt.Errorf("%s: %w", op, err))
	}
	bctx, x := withExchange(ctx)
	raw, err := lead.api.Raw(bctx, http.MethodPost, "/zones/"+zoneID+"/dns_records/batch", body, nil)
	switch {
	case err != nil:
		err = lead.convert(op, x, err)
	case !raw.Success:
		err = lead.unsuccessful(op, raw.Errors)
	}
	var e *Error
	if errors.As(err, &e) && e.Status >= 400 && e.Status < 500 && e.Status != http.StatusTooManyRequests && e.Retry == 0 {
		// The transaction failed on what it holds: each on its own.
		var todo []int
		for i := range contents {
			if _, done := errs[i]; !done {
				todo = append(todo, i)
			}
		}
		out := make([]error, len(todo))
		var wg sync.WaitGroup
		for k, i := range todo {
			wg.Go(func() { _, out[k] = b.members[i].SetContent(ctx, Record{}, contents[i]) })
		}
		wg.Wait()
		for k, i := range todo {
			errs[i] = out[k]
		}
		return errs
	}
	if err != nil {
		return b.fail(contents, errs, err)
	}
	for i := range contents {
		if _, done := errs[i]; !done {
			errs[i] = nil
			b.members[i].stats.writes.Add(1)
		}
	}
	return errs
}

// fail sets err for every member of contents not yet decided.
func (b *Batch) fail(contents map[int]string, errs map[int]error, err error) map[int]error {
	for i := range contents {
		if _, done := errs[i]; !done {
			errs[i] = err
		}
	}
	return errs
}

// setZone caches the zone's id, found by another client of the zone.
func (c *Client) setZone(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.zoneID == "" {
		c.zoneID = id
	}
}
