package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// DefaultBaseURL is the Pushbullet API base used when Pushbullet.BaseURL is empty.
const DefaultBaseURL = "https://api.pushbullet.com/v2"

// ErrMisconfigured is wrapped by the errors that no retry can fix: no access
// token, a malformed one, or more than one target.
var ErrMisconfigured = errors.New("misconfigured")

// defaultClient is used when Pushbullet.HTTPClient is nil.
var defaultClient = &http.Client{Timeout: 10 * time.Second}

// maxAnswer bounds how much of an answer is read.
const maxAnswer = 1 << 20

// Target picks who receives the pushes. At most one field may be set; with
// none, a push goes to all of the account's devices.
type Target struct {
	DeviceIden string // one device
	Email      string // a person, by e-mail (a Pushbullet user, or else a mail)
	ChannelTag string // the subscribers of a channel the account owns
	ClientIden string // the users of an OAuth client the account owns
}

// Validate reports an error wrapping ErrMisconfigured when more than one
// field is set.
func (t Target) Validate() error {
	var set []string
	for _, f := range t.fields() {
		set = append(set, f.key)
	}
	if len(set) > 1 {
		return fmt.Errorf("%w: more than one target (%s)", ErrMisconfigured, strings.Join(set, ", "))
	}
	return nil
}

type targetField struct{ key, value string }

// fields returns the set fields under their API names.
func (t Target) fields() []targetField {
	var out []targetField
	for _, f := range []targetField{
		{"device_iden", t.DeviceIden},
		{"email", t.Email},
		{"channel_tag", t.ChannelTag},
		{"client_iden", t.ClientIden},
	} {
		if f.value != "" {
			out = append(out, f)
		}
	}
	return out
}

// Pushbullet sends notes through the Pushbullet API.
type Pushbullet struct {
	BaseURL    string       // default DefaultBaseURL
	Token      string       // access token
	Target     Target       // default: all devices
	HTTPClient *http.Client // default: a client with a 10 s timeout
}

var _ Sender = (*Pushbullet)(nil)

// Receipt is what the API answered for an accepted push.
type Receipt struct {
	Iden          string    // the push's identifier
	Created       time.Time // when the API created it
	ReceiverEmail string    // the account it went to, for an e-mail target the address
}

// Push sends one note, in a single attempt. See Send.
func (p *Pushbullet) Push(ctx context.Context, title, body string) error {
	_, err := p.Send(ctx, title, body)
	return err
}

// Send sends one note, in a single attempt, with POST {BaseURL}/pushes, and
// returns the API's receipt. An error the API reports is an *Error; a
// configuration that cannot work wraps ErrMisconfigured; anything else (a
// network failure, ctx ending, an answer that is not the API's) is returned
// wrapped as it is.
func (p *Pushbullet) Send(ctx context.Context, title, body string) (*Receipt, error) {
	req, err := p.newRequest(ctx, title, body)
	if err != nil {
		return nil, err
	}
	client := p.HTTPClient
	if client == nil {
		client = defaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("pushbullet: %w", err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("pushbullet: read answer: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, p.apiError(resp, answer)
	}
	var obj struct {
		Iden          string  `json:"iden"`
		Created       float64 `json:"created"`
		ReceiverEmail string  `json:"receiver_email"`
	}
	if err := json.Unmarshal(answer, &obj); err != nil || obj.Iden == "" {
		return nil, fmt.Errorf("pushbullet: unexpected answer to a push (status %d, %s)", resp.StatusCode, contentType(resp))
	}
	return &Receipt{
		Iden:          obj.Iden,
		Created:       time.UnixMicro(int64(obj.Created * 1e6)),
		ReceiverEmail: obj.ReceiverEmail,
	}, nil
}

// newRequest checks the configuration and builds the request.
func (p *Pushbullet) newRequest(ctx context.Context, title, body string) (*http.Request, error) {
	if p.Token == "" {
		return nil, fmt.Errorf("pushbullet: %w: no access token", ErrMisconfigured)
	}
	if !validToken(p.Token) {
		return nil, fmt.Errorf("pushbullet: %w: access token contains spaces or control characters", ErrMisconfigured)
	}
	if err := p.Target.Validate(); err != nil {
		return nil, fmt.Errorf("pushbullet: %w", err)
	}

	msg := map[string]string{"type": "note", "title": title, "body": body}
	for _, f := range p.Target.fields() {
		msg[f.key] = f.value
	}
	if guid := guidFrom(ctx); guid != "" {
		msg["guid"] = guid
	}
	buf, err := json.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("pushbullet: encode note: %w", err)
	}

	base := p.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+"/pushes", bytes.NewReader(buf))
	if err != nil {
		return nil, fmt.Errorf("pushbullet: %w", err)
	}
	req.Header.Set("Access-Token", p.Token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "clooster")
	return req, nil
}

// validToken reports whether tok can be sent as a header value as it is.
func validToken(tok string) bool {
	for i := 0; i < len(tok); i++ {
		if c := tok[i]; c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

func contentType(resp *http.Response) string {
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		return ct
	}
	return "no content type"
}
