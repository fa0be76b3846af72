package telegram

import (
	"html"
	"strings"
)

// maxText is Telegram's limit on a message's text, in UTF-16 code units
// (a character outside the Basic Multilingual Plane, such as most emoji,
// counts twice).
const maxText = 4096

// ellipsis ends a text that was cut.
const ellipsis = "…"

// message returns the text and parse mode of a note: the title (the URL's
// when title is empty) as a heading in the Sender's mode, a blank line and
// body. A text over the limit is cut, and then sent without a parse mode,
// since a cut may break the markup and Telegram refuses broken markup.
func (s *Sender) message(title, body string) (text string, mode parseMode) {
	if title == "" {
		title = s.title
	}
	text = join(heading(title, s.mode), body)
	if utf16Len(text) <= maxText {
		return text, s.mode
	}
	return cut(join(title, body), maxText), modeNone
}

// heading is title written in mode: bold where the mode allows it,
// escaped so that it shows as it is.
func heading(title string, mode parseMode) string {
	if title == "" {
		return ""
	}
	switch mode {
	case modeHTML:
		return "<b>" + html.EscapeString(title) + "</b>"
	case modeMarkdown:
		// Bold cannot hold an escaped "*" in this mode: plain, escaped.
		return markdownEscaper.Replace(title)
	case modeMarkdownV2:
		return "*" + markdownV2Escaper.Replace(title) + "*"
	}
	return title
}

// The escapes of Telegram's Markdown modes, outside entities.
var (
	markdownEscaper   = escaper(`_*` + "`" + `[`)
	markdownV2Escaper = escaper(`\_*[]()~` + "`" + `>#+-=|{}.!`)
)

// escaper puts a backslash before each of chars.
func escaper(chars string) *strings.Replacer {
	var pairs []string
	for _, c := range chars {
		pairs = append(pairs, string(c), `\`+string(c))
	}
	return strings.NewReplacer(pairs...)
}

// join puts a blank line between heading and body, when both are given.
func join(heading, body string) string {
	switch {
	case heading == "":
		return body
	case body == "":
		return heading
	}
	return heading + "\n\n" + body
}

// cut shortens s, when it is over limit UTF-16 code units, to at most
// limit, the last of them an ellipsis, at a rune boundary.
func cut(s string, limit int) string {
	keep, n := -1, 0 // keep: how many bytes stay if s is cut
	for i, r := range s {
		w := runeUnits(r)
		if keep < 0 && n+w > limit-utf16Len(ellipsis) {
			keep = i
		}
		n += w
		if n > limit {
			return s[:keep] + ellipsis
		}
	}
	return s
}

// utf16Len is the length of s in UTF-16 code units, as Telegram counts.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += runeUnits(r)
	}
	return n
}

// runeUnits is how many UTF-16 code units r takes.
func runeUnits(r rune) int {
	if r >= 0x10000 {
		return 2
	}
	return 1
}
