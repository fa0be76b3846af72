package fakechat

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
)

// telegramToken is the shape of a bot token.
var telegramToken = regexp.MustCompile(`^[0-9]+:[A-Za-z0-9_-]+$`)

// telegramMaxText is the longest text, in UTF-16 code units, once entities
// are parsed.
const telegramMaxText = 4096

type telegramUser struct {
	ID                      int64  `json:"id"`
	IsBot                   bool   `json:"is_bot"`
	FirstName               string `json:"first_name"`
	Username                string `json:"username,omitempty"`
	CanJoinGroups           *bool  `json:"can_join_groups,omitempty"`
	CanReadAllGroupMessages *bool  `json:"can_read_all_group_messages,omitempty"`
	SupportsInlineQueries   *bool  `json:"supports_inline_queries,omitempty"`
}

type telegramChat struct {
	ID        int64  `json:"id"`
	Type      string `json:"type"`
	Title     string `json:"title,omitempty"`
	Username  string `json:"username,omitempty"`
	FirstName string `json:"first_name,omitempty"`
}

type telegramEntity struct {
	Type   string `json:"type"`
	Offset int    `json:"offset"`
	Length int    `json:"length"`
}

type telegramMessage struct {
	MessageID       int64            `json:"message_id"`
	MessageThreadID int64            `json:"message_thread_id,omitempty"`
	From            telegramUser     `json:"from"`
	Chat            telegramChat     `json:"chat"`
	Date            int64            `json:"date"`
	Text            string           `json:"text"`
	Entities        []telegramEntity `json:"entities,omitempty"`
}

type telegramError struct {
	OK          bool   `json:"ok"`
	ErrorCode   int    `json:"error_code"`
	Description string `json:"description"`
	Parameters  *struct {
		RetryAfter int `json:"retry_after"`
	} `json:"parameters,omitempty"`
}

// telegramDescription is the Bot API's description of an error status.
func telegramDescription(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return fmt.Sprintf("Too Many Requests: retry after %d", int(retryAfter/time.Second))
	case http.StatusConflict:
		return "Conflict"
	}
	return http.StatusText(status)
}

func telegramFail(w http.ResponseWriter, status int, description string) {
	e := telegramError{ErrorCode: status, Description: description}
	if status == http.StatusTooManyRequests {
		e.Parameters = &struct {
			RetryAfter int `json:"retry_after"`
		}{int(retryAfter / time.Second)}
	}
	writeJSON(w, status, e)
}

func telegramOK(w http.ResponseWriter, result any) {
	writeJSON(w, http.StatusOK, struct {
		OK     bool `json:"ok"`
		Result any  `json:"result"`
	}{true, result})
}

// telegram handles /bot<token>/<method>.
func (s *Server) telegram(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot")
	token, method, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || !telegramToken.MatchString(token) {
		telegramFail(w, http.StatusNotFound, "Not Found")
		return
	}
	if s.cfg.TelegramToken != "" && !equal(token, s.cfg.TelegramToken) {
		telegramFail(w, http.StatusUnauthorized, "Unauthorized")
		return
	}
	botID, _ := strconv.ParseInt(token[:strings.IndexByte(token, ':')], 10, 64)
	bot := telegramUser{ID: botID, IsBot: true, FirstName: "Fake Bot", Username: "fakechat_bot"}

	switch strings.ToLower(method) {
	case "getme":
		yes, no := true, false
		bot.CanJoinGroups, bot.CanReadAllGroupMessages, bot.SupportsInlineQueries = &yes, &no, &no
		telegramOK(w, bot)
	case "getupdates":
		telegramOK(w, []any{})
	case "sendmessage":
		s.telegramSend(w, r, bot)
	default:
		telegramFail(w, http.StatusNotFound, "Not Found")
	}
}

// telegramSend handles sendMessage, with its parameters in the query, a
// form or a JSON body.
func (s *Server) telegramSend(w http.ResponseWriter, r *http.Request, bot telegramUser) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		telegramFail(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return
	}
	params, err := telegramParams(r, raw)
	if err != nil {
		telegramFail(w, http.StatusBadRequest, "Bad Request: "+err.Error())
		return
	}
	chatID, text := params["chat_id"], params["text"]
	if chatID == "" {
		telegramFail(w, http.StatusBadRequest, "Bad Request: chat_id is empty")
		return
	}
	chat, ok := telegramChatFor(chatID)
	if !ok {
		telegramFail(w, http.StatusBadRequest, "Bad Request: chat not found")
		return
	}
	if strings.TrimSpace(text) == "" {
		telegramFail(w, http.StatusBadRequest, "Bad Request: message text is empty")
		return
	}
	mode := strings.ToLower(params["parse_mode"])
	switch mode {
	case "", "html", "markdown", "markdownv2":
	default:
		telegramFail(w, http.StatusBadRequest, "Bad Request: unsupported parse_mode")
		return
	}

	title, body, shown := "", text, text
	var entities []telegramEntity
	if mode == "html" {
		shown = htmlText(text)
		body = shown
		if t, rest, ok := strings.Cut(strings.TrimPrefix(text, "<b>"), "</b>\n"); ok && strings.HasPrefix(text, "<b>") {
			title, body = htmlText(t), htmlText(rest)
			entities = []telegramEntity{{Type: "bold", Offset: 0, Length: utf16Len(title)}}
		}
	}
	if utf16Len(shown) > telegramMaxText {
		telegramFail(w, http.StatusBadRequest, "Bad Request: message is too long")
		return
	}

	msg := telegramMessage{
		MessageID: s.nextID(),
		From:      bot,
		Chat:      chat,
		Date:      time.Now().Unix(),
		Text:      shown,
		Entities:  entities,
	}
	if id, err := strconv.ParseInt(params["message_thread_id"], 10, 64); err == nil {
		msg.MessageThreadID = id
	}
	s.record(newMessage(Telegram, r, raw, title, body))
	telegramOK(w, msg)
}

// telegramParams gathers a method's parameters as strings.
func telegramParams(r *http.Request, raw []byte) (map[string]string, error) {
	params := make(map[string]string)
	for k, vs := range r.URL.Query() {
		params[k] = vs[0]
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil {
			return nil, fmt.Errorf("can't parse JSON object")
		}
		for k, v := range obj {
			var str string
			if json.Unmarshal(v, &str) == nil {
				params[k] = str
			} else {
				params[k] = string(v) // a number or a boolean as written
			}
		}
	case "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(raw))
		if err != nil {
			return nil, fmt.Errorf("can't parse form")
		}
		for k, vs := range form {
			params[k] = vs[0]
		}
	}
	return params, nil
}

// telegramChatFor is the chat a chat_id names: "@name" a channel, a
// positive number a private chat, a negative one a group.
func telegramChatFor(id string) (telegramChat, bool) {
	if name, ok := strings.CutPrefix(id, "@"); ok && name != "" {
		return telegramChat{ID: -1001000000001, Type: "channel", Title: name, Username: name}, true
	}
	n, err := strconv.ParseInt(id, 10, 64)
	switch {
	case err != nil || n == 0:
		return telegramChat{}, false
	case n > 0:
		return telegramChat{ID: n, Type: "private", FirstName: "Fake", Username: "fake_user"}, true
	case strings.HasPrefix(id, "-100"):
		return telegramChat{ID: n, Type: "supergroup", Title: "Fake Group"}, true
	}
	return telegramChat{ID: n, Type: "group", Title: "Fake Group"}, true
}

// htmlTag matches a tag of Telegram's HTML.
var htmlTag = regexp.MustCompile(`<[^>]*>`)

// htmlText is the text a reader sees of Telegram HTML: no tags, entities
// decoded.
func htmlText(s string) string {
	return html.UnescapeString(htmlTag.ReplaceAllString(s, ""))
}

func utf16Len(s string) int {
	return len(utf16.Encode([]rune(s)))
}
