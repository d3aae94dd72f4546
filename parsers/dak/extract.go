package dak

import "strings"

const (
	beginSigned = "-----BEGIN PGP SIGNED MESSAGE-----"
	beginSig    = "-----BEGIN PGP SIGNATURE-----"
	endSig      = "-----END PGP SIGNATURE-----"
)

// located is a .changes found inside a mail body.
type located struct {
	// para is the .changes text (dash-escaping undone).
	para string
	// signed reports an OpenPGP clearsigned block; armor is its armored
	// signature ("" when unsigned).
	signed bool
	armor  string
}

// indexLine returns the index of the first occurrence of marker at the
// start of a line of s, or -1.
func indexLine(s, marker string) int {
	off := 0
	for {
		i := strings.Index(s[off:], marker)
		if i < 0 {
			return -1
		}
		i += off
		if i == 0 || s[i-1] == '\n' {
			return i
		}
		off = i + len(marker)
	}
}

// findChanges locates the .changes inside a mail text: an inline
// clearsigned block (anywhere, e.g. after dak's "Thank you for your
// contribution … Accepted:" preamble), or else an unsigned paragraph that
// starts with a "Format:" (or "Source:") line. ok is false when there is
// none.
func findChanges(text string) (loc located, ok bool) {
	if i := indexLine(text, beginSigned); i >= 0 {
		rest := text[i+len(beginSigned):]
		// Skip the armor header lines (Hash: …) up to the blank line.
		for {
			nl := strings.IndexByte(rest, '\n')
			if nl < 0 {
				return loc, false
			}
			rest = rest[nl+1:]
			end := strings.IndexByte(rest, '\n')
			if end < 0 {
				end = len(rest)
			}
			if isBlank(strings.TrimRight(rest[:end], "\r")) {
				rest = rest[min(end+1, len(rest)):]
				break
			}
		}
		j := indexLine(rest, beginSig)
		if j < 0 {
			// Truncated: parse what is there, as unsigned.
			return located{para: undash(rest)}, true
		}
		loc.para = undash(rest[:j])
		loc.signed = true
		sig := rest[j:]
		if k := strings.Index(sig, endSig); k >= 0 {
			sig = sig[:k+len(endSig)]
		}
		loc.armor = sig
		return loc, true
	}
	for _, m := range [...]string{"Format:", "Source:"} {
		if i := indexLine(text, m); i >= 0 {
			return located{para: text[i:]}, true
		}
	}
	return loc, false
}

// undash undoes OpenPGP dash-escaping ("- -----BEGIN" → "-----BEGIN"),
// copying only when there is something to undo.
func undash(s string) string {
	if !strings.HasPrefix(s, "- ") && !strings.Contains(s, "\n- ") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for s != "" {
		line, rest, found := strings.Cut(s, "\n")
		b.WriteString(strings.TrimPrefix(line, "- "))
		if found {
			b.WriteByte('\n')
		}
		s = rest
	}
	return b.String()
}
