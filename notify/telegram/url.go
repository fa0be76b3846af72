package telegram

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Scheme is the URL scheme of a Telegram channel.
const Scheme = "telegram"

// The query keys, as shoutrrr's telegram service reads them, lower case.
const (
	keyChats        = "chats"
	keyChannels     = "channels" // another name for chats
	keyPreview      = "preview"
	keyNotification = "notification"
	keyParseMode    = "parsemode"
	keyTitle        = "title"
)

// parseMode is how Telegram reads the text of a message.
type parseMode int

// The parse modes, in shoutrrr's order.
const (
	modeNone parseMode = iota
	modeMarkdown
	modeHTML
	modeMarkdownV2
)

var parseModes = [...]string{modeNone: "None", modeMarkdown: "Markdown", modeHTML: "HTML", modeMarkdownV2: "MarkdownV2"}

// String returns the mode's name as the URL and the Bot API spell it.
func (m parseMode) String() string { return parseModes[m] }

// chat is one destination: a chat id or an @channel, and a topic of a forum
// group when the URL names one as "<chat>:<thread>".
type chat struct {
	name   string // as written in the URL, for errors and the memory of a note
	id     string // chat_id
	thread int64  // message_thread_id; 0 for none
}

// parse reads a telegram URL into a Sender without a client.
func parse(u *url.URL) (*Sender, error) {
	if u == nil {
		return nil, errors.New("no URL")
	}
	if !strings.EqualFold(u.Scheme, Scheme) {
		return nil, fmt.Errorf("scheme: want %s (got %q)", Scheme, u.Scheme)
	}
	if u.Opaque != "" || u.User == nil {
		return nil, errors.New("no bot token: want " + Scheme + "://<bot id>:<secret>@telegram?chats=<chat id>")
	}
	secret, _ := u.User.Password()
	if !validToken(u.User.Username(), secret) {
		return nil, errors.New("bot token: want <bot id>:<secret>, the bot id in digits and the secret in letters, digits, _ and -")
	}

	query, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, errors.New("malformed query")
	}
	s := &Sender{
		token:        u.User.Username() + ":" + secret,
		secret:       secret,
		preview:      true,
		notification: true,
	}
	seen := make(map[string]bool) // the keys met, lower case, channels as chats
	for key, values := range query {
		canon := strings.ToLower(key)
		switch canon {
		case keyChannels:
			canon = keyChats
		case keyChats, keyPreview, keyNotification, keyParseMode, keyTitle:
		default:
			return nil, fmt.Errorf("unknown query key %q: want chats, preview, notification, parsemode or title", key)
		}
		if seen[canon] || len(values) > 1 {
			if canon == keyChats {
				return nil, errors.New("chats: given more than once (channels is another name for it)")
			}
			return nil, fmt.Errorf("%s: given more than once", canon)
		}
		seen[canon] = true

		v := values[0]
		switch canon {
		case keyChats:
			if s.chats, err = parseChats(v); err != nil {
				return nil, fmt.Errorf("chats: %w", err)
			}
		case keyPreview:
			if s.preview, err = parseBool(canon, v); err != nil {
				return nil, err
			}
		case keyNotification:
			if s.notification, err = parseBool(canon, v); err != nil {
				return nil, err
			}
		case keyParseMode:
			if s.mode, err = readParseMode(canon, v); err != nil {
				return nil, err
			}
		case keyTitle:
			s.title = v
		}
	}
	if len(s.chats) == 0 {
		return nil, errors.New("no chats: want chats=<chat id>,@<channel>, one or more")
	}
	return s, nil
}

// validToken reports whether id and secret make a bot token: digits, then
// letters, digits, "_" and "-".
func validToken(id, secret string) bool {
	if id == "" || secret == "" {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return false
		}
	}
	for i := 0; i < len(secret); i++ {
		switch c := secret[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// parseChats reads a comma-separated list of chats, each a chat id or an
// @channel, optionally followed by ":<thread id>".
func parseChats(v string) ([]chat, error) {
	var chats []chat
	seen := make(map[string]bool)
	for name := range strings.SplitSeq(v, ",") {
		id, thread, hasThread := strings.Cut(name, ":")
		c := chat{name: name, id: id}
		if !validChatID(id) {
			return nil, fmt.Errorf("want a chat id or @channel, optionally with :<thread id> (got %q)", name)
		}
		if hasThread {
			n, err := strconv.ParseInt(thread, 10, 64)
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("thread: want a positive number (got %q)", name)
			}
			c.thread = n
		}
		if seen[name] {
			return nil, fmt.Errorf("%q given twice", name)
		}
		seen[name] = true
		chats = append(chats, c)
	}
	return chats, nil
}

// validChatID reports whether id is a chat id (an integer, negative for
// groups) or a channel's @username.
func validChatID(id string) bool {
	if name, ok := strings.CutPrefix(id, "@"); ok {
		if name == "" {
			return false
		}
		for i := 0; i < len(name); i++ {
			switch c := name[i]; {
			case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_':
			default:
				return false
			}
		}
		return true
	}
	n, err := strconv.ParseInt(id, 10, 64)
	return err == nil && n != 0
}

// parseBool reads a boolean as shoutrrr does.
func parseBool(key, v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true", "1", "yes", "y":
		return true, nil
	case "false", "0", "no", "n":
		return false, nil
	}
	return false, fmt.Errorf("%s: want yes or no (got %q)", key, v)
}

// readParseMode reads a parse mode, in any case.
func readParseMode(key, v string) (parseMode, error) {
	for m, name := range parseModes {
		if strings.EqualFold(v, name) {
			return parseMode(m), nil
		}
	}
	return modeNone, fmt.Errorf("%s: want None, Markdown, HTML or MarkdownV2 (got %q)", key, v)
}
