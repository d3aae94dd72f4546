package pts

import (
	"strconv"
	"strings"
)

// packageNames splits a package header value (normally one name; the
// tracker forwards once per package) on blanks and commas and keeps the
// valid Debian package names, without repeats, at most MaxPackages.
func packageNames(v string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(v, func(r rune) bool {
		return r == ' ' || r == '\t' || r == ','
	}) {
		f = strings.ToLower(strings.TrimPrefix(f, "src:"))
		if !ValidPackage(f) || contains(out, f) {
			continue
		}
		out = append(out, f)
		if len(out) == MaxPackages {
			break
		}
	}
	return out
}

// ValidPackage reports whether s is a Debian package name (Debian Policy
// §5.6.1: lower-case letters, digits, "+", "-" and ".", at least two
// characters, starting with a letter or digit).
func ValidPackage(s string) bool {
	if len(s) < 2 || len(s) > 100 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '+' || c == '-' || c == '.') && i > 0:
		default:
			return false
		}
	}
	return true
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// clip bounds s to 60 bytes for a reason.
func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 60 {
		s = strings.ToValidUTF8(s[:60], "") + "…"
	}
	return s
}

// quote quotes a header value for a reason, bounded.
func quote(s string) string {
	return strconv.Quote(clip(s))
}
