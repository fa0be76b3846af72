package cfapi

import (
	"context"
	"time"
)

// Read returns the record's current content. With Write, it makes the client
// a watchdog.RecordStore: the watchdog re-reads before every write.
func (c *Client) Read(ctx context.Context) (string, error) {
	rec, err := c.Get(ctx)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	c.modified = rec.Modified
	c.mu.Unlock()
	return rec.Content, nil
}

// LastModified is when the record last changed, as the last Read found it;
// zero if unknown. The watchdog uses it to tell an edit made before a link
// loss from the peer's write after it.
func (c *Client) LastModified() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.modified
}

// Write sets the record's content and nothing else of it. It uses the ids
// found by the last Read, so a write costs one request.
func (c *Client) Write(ctx context.Context, content string) error {
	c.mu.Lock()
	rec := Record{ZoneID: c.zoneID, ID: c.recordID}
	c.mu.Unlock()
	_, err := c.SetContent(ctx, rec, content)
	return err
}
