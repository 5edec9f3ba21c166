package schema

import (
	"strings"
	"unicode/utf8"
)

// PublicText makes a game-authored text fit for Error.message: valid UTF-8
// (an invalid sequence becomes U+FFFD) of at most max bytes, cut at a
// character boundary.
func PublicText(msg string, max int) string {
	msg = strings.ToValidUTF8(msg, "\uFFFD")
	if len(msg) <= max {
		return msg
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut]
}
