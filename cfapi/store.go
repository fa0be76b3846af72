package cfapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/clooster/clooster/internal/failover"
)

var _ failover.RecordStore = (*Client)(nil)

// Read returns the record's content and when it last changed, on our
// clock (the API's modified_on, shifted by the API's clock offset measured
// at this answer). With Write, it makes the client the failover.RecordStore
// of a node: the node re-reads before every write.
func (c *Client) Read(ctx context.Context) (failover.Record, error) {
	rec, err := c.Get(ctx)
	if err != nil {
		return failover.Record{}, storeError(err)
	}
	return failover.Record{
		Content:  rec.Content,
		Modified: failover.OnOurClock(rec.Modified, rec.APIClock, rec.Received),
		APIClock: failover.DateOffset(rec.APIClock, rec.Asked, rec.Received),
	}, nil
}

// Write sets the record's content and nothing else of it. It uses the ids
// found by the last Read, so a write costs one request.
func (c *Client) Write(ctx context.Context, content string) error {
	c.mu.Lock()
	rec := Record{ZoneID: c.zoneID, ID: c.recordID}
	c.mu.Unlock()
	_, err := c.SetContent(ctx, rec, content)
	return storeError(err)
}

// storeError states err in the store's contract: a record (or zone) that
// does not exist is failover.ErrMissing, and an answer that says when to
// retry is a *failover.RetryLater.
func storeError(err error) error {
	var e *Error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotFound):
		return fmt.Errorf("%w (%w)", err, failover.ErrMissing)
	case errors.As(err, &e) && e.Retry > 0:
		return &failover.RetryLater{After: e.Retry, Err: err}
	case errors.As(err, &e) && e.Status >= 400 && e.Status < 500 && e.Status != http.StatusRequestTimeout && e.Op == "patch record":
		// Refused for what it holds (a 400 for an invalid content, a
		// locked record): it did not land.
		return fmt.Errorf("%w (%w)", err, failover.ErrRefused)
	}
	return err
}

// BatchStore is a Batch in the store's contract (failover.RecordStore's
// records and errors), for a set of records of one zone.
type BatchStore struct{ B *Batch }

// ReadAll reads every member's record, as Client.Read would.
func (s BatchStore) ReadAll(ctx context.Context) ([]failover.Record, []error) {
	recs, errs := s.B.ReadAll(ctx)
	out := make([]failover.Record, len(recs))
	for i, rec := range recs {
		errs[i] = storeError(errs[i])
		if errs[i] == nil {
			out[i] = failover.Record{Content: rec.Content, Modified: failover.OnOurClock(rec.Modified, rec.APIClock, rec.Received),
				APIClock: failover.DateOffset(rec.APIClock, rec.Asked, rec.Received)}
		}
	}
	return out, errs
}

// WriteAll writes the members of contents, as Client.Write would.
func (s BatchStore) WriteAll(ctx context.Context, contents map[int]string) map[int]error {
	errs := s.B.WriteAll(ctx, contents)
	for i, err := range errs {
		errs[i] = storeError(err)
	}
	return errs
}
