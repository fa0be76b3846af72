package fakechat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// discordPath is a webhook's execute path, with or without an API version.
var discordPath = regexp.MustCompile(`^/api(?:/v[0-9]+)?/webhooks/([^/]+)/([^/]+)/?$`)

// discordEpoch is where Discord's snowflake ids count milliseconds from.
const discordEpoch = 1420070400000

// Discord's limits on a message.
const (
	discordMaxContent = 2000
	discordMaxEmbeds  = 10
)

type discordError struct {
	Message    string          `json:"message"`
	Code       int             `json:"code"`
	Errors     json.RawMessage `json:"errors,omitempty"`
	RetryAfter float64         `json:"retry_after,omitempty"`
	Global     *bool           `json:"global,omitempty"`
}

// discordErrorFor is the error Discord answers with status.
func discordErrorFor(status int) discordError {
	switch status {
	case http.StatusTooManyRequests:
		no := false
		return discordError{Message: "You are being rate limited.", RetryAfter: retryAfter.Seconds(), Global: &no}
	case http.StatusNotFound:
		return discordError{Message: "Unknown Webhook", Code: 10015}
	case http.StatusUnauthorized:
		return discordError{Message: "Invalid Webhook Token", Code: 50027}
	}
	return discordError{Message: fmt.Sprintf("%d: %s", status, http.StatusText(status))}
}

func discordFail(w http.ResponseWriter, status int, e discordError) {
	writeJSON(w, status, e)
}

// discordInvalid is Discord's answer to a field over its limit.
func discordInvalid(w http.ResponseWriter, field, code, message string) {
	errs, _ := json.Marshal(map[string]any{field: map[string]any{"_errors": []map[string]string{{"code": code, "message": message}}}})
	discordFail(w, http.StatusBadRequest, discordError{Message: "Invalid Form Body", Code: 50035, Errors: errs})
}

type discordEmbed struct {
	Title       string `json:"title"`
	Description string `json:"description"`
}

type discordPayload struct {
	Content   string            `json:"content"`
	Username  string            `json:"username"`
	AvatarURL string            `json:"avatar_url"`
	Embeds    []json.RawMessage `json:"embeds"`
}

type discordAuthor struct {
	ID            string `json:"id"`
	Username      string `json:"username"`
	Avatar        any    `json:"avatar"`
	Discriminator string `json:"discriminator"`
	Bot           bool   `json:"bot"`
}

// discordMessage is the message object a webhook answers with ?wait=true.
type discordMessage struct {
	ID              string            `json:"id"`
	Type            int               `json:"type"`
	Content         string            `json:"content"`
	ChannelID       string            `json:"channel_id"`
	Author          discordAuthor     `json:"author"`
	Attachments     []any             `json:"attachments"`
	Embeds          []json.RawMessage `json:"embeds"`
	Mentions        []any             `json:"mentions"`
	MentionRoles    []any             `json:"mention_roles"`
	Pinned          bool              `json:"pinned"`
	MentionEveryone bool              `json:"mention_everyone"`
	TTS             bool              `json:"tts"`
	Timestamp       string            `json:"timestamp"`
	EditedTimestamp any               `json:"edited_timestamp"`
	Flags           int               `json:"flags"`
	Components      []any             `json:"components"`
	WebhookID       string            `json:"webhook_id"`
}

// discord handles POST /api/webhooks/<id>/<token>: 204, or with ?wait=true
// 200 and the message.
func (s *Server) discord(w http.ResponseWriter, r *http.Request) {
	m := discordPath.FindStringSubmatch(r.URL.Path)
	if m == nil {
		discordFail(w, http.StatusNotFound, discordError{Message: "404: Not Found"})
		return
	}
	if r.Method != http.MethodPost {
		discordFail(w, http.StatusMethodNotAllowed, discordError{Message: "405: Method Not Allowed"})
		return
	}
	id, token := m[1], m[2]
	if s.cfg.DiscordID != "" && id != s.cfg.DiscordID {
		discordFail(w, http.StatusNotFound, discordErrorFor(http.StatusNotFound))
		return
	}
	if s.cfg.DiscordToken != "" && !equal(token, s.cfg.DiscordToken) {
		discordFail(w, http.StatusUnauthorized, discordErrorFor(http.StatusUnauthorized))
		return
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		discordFail(w, http.StatusRequestEntityTooLarge, discordError{Message: "Request entity too large", Code: 40005})
		return
	}
	payloadJSON := raw
	if mt, ps, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
		form, err := multipart.NewReader(bytes.NewReader(raw), ps["boundary"]).ReadForm(maxBody)
		if err != nil {
			discordFail(w, http.StatusBadRequest, discordError{Message: "400: Bad Request"})
			return
		}
		form.RemoveAll()
		payloadJSON = nil
		if v := form.Value["payload_json"]; len(v) > 0 {
			payloadJSON = []byte(v[0])
		}
	}
	var p discordPayload
	if err := json.Unmarshal(payloadJSON, &p); err != nil {
		discordFail(w, http.StatusBadRequest, discordError{Message: "The request body contains invalid JSON.", Code: 50109})
		return
	}
	var embeds []discordEmbed
	for _, e := range p.Embeds {
		var d discordEmbed
		if err := json.Unmarshal(e, &d); err != nil {
			discordInvalid(w, "embeds", "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
			return
		}
		embeds = append(embeds, d)
	}
	switch {
	case strings.TrimSpace(p.Content) == "" && len(embeds) == 0:
		discordFail(w, http.StatusBadRequest, discordError{Message: "Cannot send an empty message", Code: 50006})
		return
	case utf8.RuneCountInString(p.Content) > discordMaxContent:
		discordInvalid(w, "content", "BASE_TYPE_MAX_LENGTH", fmt.Sprintf("Must be %d or fewer in length.", discordMaxContent))
		return
	case len(embeds) > discordMaxEmbeds:
		discordInvalid(w, "embeds", "BASE_TYPE_MAX_LENGTH", fmt.Sprintf("Must be %d or fewer in length.", discordMaxEmbeds))
		return
	}

	var title string
	var lines []string
	if p.Content != "" {
		lines = append(lines, p.Content)
	}
	for i, e := range embeds {
		if i == 0 {
			title = e.Title
		} else if e.Title != "" {
			lines = append(lines, e.Title)
		}
		if e.Description != "" {
			lines = append(lines, e.Description)
		}
	}
	now := time.Now()
	seq := s.nextID()
	s.record(newMessage(Discord, r, raw, title, strings.Join(lines, "\n")))

	switch strings.ToLower(r.URL.Query().Get("wait")) {
	case "true", "1":
	default:
		w.WriteHeader(http.StatusNoContent)
		return
	}
	username := p.Username
	if username == "" {
		username = "Fake Hook"
	}
	if p.Embeds == nil {
		p.Embeds = []json.RawMessage{}
	}
	writeJSON(w, http.StatusOK, discordMessage{
		ID:           strconv.FormatInt((now.UnixMilli()-discordEpoch)<<22|seq&0xfff, 10),
		Content:      p.Content,
		ChannelID:    "1000000000000000001",
		Author:       discordAuthor{ID: id, Username: username, Discriminator: "0000", Bot: true},
		Attachments:  []any{},
		Embeds:       p.Embeds,
		Mentions:     []any{},
		MentionRoles: []any{},
		Timestamp:    now.UTC().Format("2006-01-02T15:04:05.000000-07:00"),
		Components:   []any{},
		WebhookID:    id,
	})
}
