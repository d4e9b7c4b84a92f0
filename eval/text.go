package eval

import "unicode"

// pyIsSpace reports whether r is whitespace for Python's str.isspace and
// re's \s on str patterns: Unicode White_Space plus the ASCII information
// separators U+001C–U+001F.
func pyIsSpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}
