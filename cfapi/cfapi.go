// Package cfapi reads and repoints the one Cloudflare DNS record that
// clooster keeps, over the v4 API (cloudflare-go underneath).
//
// A Client resolves the zone (by name, once, unless its id is configured)
// and the record (by name and, when set, type) lazily and caches both ids.
// Get re-reads the record; SetContent changes its content alone, with a
// PATCH whose body is exactly {"content": ...}, so that the TTL, proxying,
// comment and tags an operator set stay as they are.
//
// Each request is sent once, with no retry, no backoff and no client-side
// rate limit: a 429 or a 5xx comes back at once, and the caller, which owns
// the retry policy, reads the delay the API asked for from
// (*Error).RetryAfter. Failures the API reports are *Error values;
// ErrNotFound and ErrAmbiguous are matched with errors.Is; network and
// context errors come back wrapped ("get record: ..."). Stats counts
// requests, reads, writes and failures by kind, for metrics.
//
// Only Config decides credentials and endpoint: no CLOUDFLARE_* or CF_*
// environment variable is read. (The default HTTP client honours the
// standard HTTPS_PROXY and NO_PROXY, as net/http does.) Nothing logged or
// returned contains the token or the key; each request is logged at debug
// level.
//
// Concurrency: a Client is safe for concurrent use. It owns no goroutine and
// needs no closing; calls stop when their context is done.
package cfapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/cloudflare/cloudflare-go"
)

// DefaultBaseURL is the API's base when Config.BaseURL is empty.
const DefaultBaseURL = "https://api.cloudflare.com/client/v4"

// Config says which record to keep and how to reach the API.
type Config struct {
	BaseURL    string       // default DefaultBaseURL
	Token      string       // API token (Zone:Read, DNS:Edit), or:
	Key, Email string       // legacy global API key and account e-mail
	Zone       string       // zone name, looked up once (unless ZoneID)
	ZoneID     string       // zone id; no zone lookup at all
	Record     string       // full record name
	Type       string       // "", "A", "AAAA" or "CNAME": picks the record when a name has several
	HTTPClient *http.Client // default: a client with sensible timeouts; it is not modified
	Logger     *slog.Logger // default: discard
	UserAgent  string       // default "clooster"
}

// Record is a DNS record as the API last answered it.
type Record struct {
	ID, ZoneID, Name, Type, Content string
	TTL                             int // 1 means automatic
	Proxied                         bool
	Modified                        time.Time // when the record last changed, on the API's clock
	// APIClock is the API's clock when it answered (its Date header), and
	// Received ours then, Asked ours when the request went; zero if the
	// answer had no Date.
	APIClock, Asked, Received time.Time
}

// Client is a Cloudflare DNS client for one record. Create it with New.
type Client struct {
	api      *cloudflare.API
	zoneName string
	zoneSet  bool   // the zone id came from Config: never looked up
	name     string // record name, lower case, ASCII
	typ      string
	secrets  []string
	log      *slog.Logger
	stats    counters

	mu        sync.Mutex
	zoneID    string
	recordID  string
	firstType string // without a configured type: the record's when first found
}

// New checks cfg and returns a client. It makes no request.
func New(cfg Config) (*Client, error) {
	c := &Client{
		zoneName: normName(cfg.Zone),
		name:     normName(cfg.Record),
		typ:      strings.ToUpper(strings.TrimSpace(cfg.Type)),
		zoneID:   strings.TrimSpace(cfg.ZoneID),
	}
	c.zoneSet = c.zoneID != ""
	switch {
	case cfg.Token == "" && cfg.Key == "" && cfg.Email == "":
		return nil, errors.New("cfapi: no credentials: set a token, or a key and an e-mail")
	case cfg.Token != "" && (cfg.Key != "" || cfg.Email != ""):
		return nil, errors.New("cfapi: a token and a key/e-mail are mutually exclusive")
	case cfg.Token == "" && (cfg.Key == "" || cfg.Email == ""):
		return nil, errors.New("cfapi: a legacy key needs both the key and the e-mail")
	case c.zoneName == "" && c.zoneID == "":
		return nil, errors.New("cfapi: no zone: set a zone name or a zone id")
	case c.name == "":
		return nil, errors.New("cfapi: no record name")
	}
	switch c.typ {
	case "", "A", "AAAA", "CNAME":
	default:
		return nil, fmt.Errorf("cfapi: record type must be A, AAAA or CNAME (got %q)", cfg.Type)
	}
	base, err := baseURL(cfg.BaseURL)
	if err != nil {
		return nil, err
	}

	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c.log = logger.With("component", "cfapi")
	for _, s := range []string{cfg.Token, cfg.Key} {
		if s != "" {
			c.secrets = append(c.secrets, s)
		}
	}

	hc := cfg.HTTPClient
	if hc == nil {
		hc = DefaultHTTPClient()
	}
	wrapped := *hc // the caller's client stays as it is
	wrapped.Transport = &transport{base: hc.Transport, log: c.log, stats: &c.stats}
	ua := cfg.UserAgent
	if ua == "" {
		ua = "clooster"
	}
	opts := []cloudflare.Option{
		cloudflare.HTTPClient(&wrapped),
		cloudflare.BaseURL(base),
		cloudflare.UserAgent(ua),
		cloudflare.UsingRetryPolicy(0, 0, 0),       // one attempt: the caller retries
		cloudflare.UsingRateLimit(math.MaxFloat64), // rate.Inf: never wait here
		cloudflare.UsingLogger(discardLogger{}),    // the SDK's own messages
		cloudflare.Headers(http.Header{"Accept": {"application/json"}}),
	}
	if cfg.Token != "" {
		c.api, err = cloudflare.NewWithAPIToken(cfg.Token, opts...)
	} else {
		c.api, err = cloudflare.New(cfg.Key, cfg.Email, opts...)
	}
	if err != nil {
		return nil, fmt.Errorf("cfapi: %w", err)
	}
	return c, nil
}

// Name returns the record's name, for messages.
func (c *Client) Name() string { return c.name }

// Get re-reads the record. Once the zone and record ids are known it makes
// one request; the first call also looks the zone up (unless Config.ZoneID)
// and finds the record by name. A cached record that has vanished or
// changed name or type is looked up by name again.
func (c *Client) Get(ctx context.Context) (Record, error) {
	zoneID, err := c.zone(ctx)
	if err != nil {
		return Record{}, err
	}
	if rid := c.cachedRecord(); rid != "" {
		rec, err := c.getByID(ctx, zoneID, rid)
		switch {
		case err == nil && c.wanted(rec.Name, rec.Type):
			c.stats.reads.Add(1)
			return rec, nil
		case err == nil || errors.Is(err, ErrNotFound):
			c.log.Info("record changed outside, looking it up again", "record", c.name, "record_id", rid)
			c.forgetRecord(rid)
		default:
			return Record{}, err
		}
	}
	rec, err := c.find(ctx, zoneID)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && errors.Is(err, ErrNotFound) && !c.zoneSet {
			c.forgetZone(zoneID) // the zone itself is gone: look it up again next time
		}
		return Record{}, err
	}
	c.stats.reads.Add(1)
	return rec, nil
}

// SetContent changes the content of rec (as Get returned it) and nothing
// else, and returns the record as the API answered. Without rec.ID and
// rec.ZoneID it uses the cached ids, looking them up if need be.
func (c *Client) SetContent(ctx context.Context, rec Record, content string) (Record, error) {
	zoneID, rid := rec.ZoneID, rec.ID
	if zoneID == "" || rid == "" {
		cur, err := c.Get(ctx)
		if err != nil {
			return Record{}, err
		}
		zoneID, rid = cur.ZoneID, cur.ID
	}
	const op = "patch record"
	body, err := json.Marshal(struct {
		Content string `json:"content"`
	}{content})
	if err != nil {
		return Record{}, fmt.Errorf("%s: %w", op, err)
	}
	ctx, x := withExchange(ctx)
	raw, err := c.api.Raw(ctx, http.MethodPatch, recordPath(zoneID, rid), body, nil)
	if err != nil {
		err = c.convert(op, x, err)
		if errors.Is(err, ErrNotFound) {
			c.forgetRecord(rid)
		}
		return Record{}, err
	}
	if !raw.Success {
		return Record{}, c.unsuccessful(op, raw.Errors)
	}
	var r cloudflare.DNSRecord
	if err := json.Unmarshal(raw.Result, &r); err != nil {
		c.stats.requestErrors.Add(1)
		return Record{}, fmt.Errorf("%s: decode answer: %w", op, err)
	}
	c.stats.writes.Add(1)
	return toRecord(r, zoneID, x), nil
}

func baseURL(s string) (string, error) {
	if s == "" {
		return DefaultBaseURL, nil
	}
	s = strings.TrimRight(s, "/")
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" {
		return "", fmt.Errorf("cfapi: base url must be an http(s) URL without credentials or query (got %q)", s)
	}
	return s, nil
}

// DefaultHTTPClient bounds every stage of a request, so that a call never
// hangs on an API that does not answer even when the caller's context has
// no deadline.
func DefaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ResponseHeaderTimeout = 15 * time.Second
	t.IdleConnTimeout = 90 * time.Second
	t.MaxIdleConnsPerHost = 4
	return &http.Client{Transport: t, Timeout: 30 * time.Second}
}

// discardLogger silences cloudflare-go's own log.
type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
