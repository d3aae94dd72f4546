package dak

import "strings"

// compatPayload returns the .changes as debmessenger published it
// (python-debian's Changes turned into plain dicts): every field under
// its own name with case kept, values as strings (multi-line values as
// "\n"-joined continuation lines with their leading blank), and Files and
// Checksums-* as lists of objects whose values are strings.
func compatPayload(ch *Changes) map[string]any {
	out := make(map[string]any, len(ch.Fields))
	var bx boxes
	for _, f := range ch.Fields {
		switch lowerKind(f.Name) {
		case "files":
			var list []map[string]any
			var w [5]string
			ch.lines(f.Name, func(line string) {
				if splitN(line, w[:]) == 5 {
					list = append(list, map[string]any{"md5sum": w[0], "size": bx.str(w[1]), "section": bx.str(w[2]), "priority": bx.str(w[3]), "name": bx.str(w[4])})
				}
			})
			out[f.Name] = orEmpty(list)
		case "checksums-sha1", "checksums-sha256", "checksums-sha512":
			key := strings.ToLower(strings.TrimPrefix(strings.ToLower(f.Name), "checksums-"))
			var list []map[string]any
			var w [3]string
			ch.lines(f.Name, func(line string) {
				if splitN(line, w[:]) == 3 {
					list = append(list, map[string]any{key: w[0], "size": bx.str(w[1]), "name": bx.str(w[2])})
				}
			})
			out[f.Name] = orEmpty(list)
		default:
			if _, dup := out[f.Name]; !dup {
				out[f.Name] = f.Value
			}
		}
	}
	return out
}

func orEmpty(l []map[string]any) []map[string]any {
	if l == nil {
		return []map[string]any{}
	}
	return l
}

// lowerKind returns name lower-cased when it is one of the fields that
// compatPayload treats apart, else name itself, without allocating.
// Non-ASCII names take strings.ToLower (Unicode case mapping).
func lowerKind(name string) string {
	for i := 0; i < len(name); i++ {
		if name[i] >= 0x80 {
			return strings.ToLower(name)
		}
	}
	for _, k := range [...]string{"files", "checksums-sha1", "checksums-sha256", "checksums-sha512"} {
		if len(name) == len(k) && asciiFoldEq(name, k) {
			return k
		}
	}
	return name
}

// asciiFoldEq compares ASCII s with lower-case t ignoring case.
func asciiFoldEq(s, t string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != t[i] {
			return false
		}
	}
	return true
}
