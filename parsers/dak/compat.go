package dak

import (
	"strings"

	"github.com/debian/mailgw/parsers"
)

// compatPayloadIn returns the .changes as debmessenger published it
// (python-debian's Changes turned into plain dicts): every field under
// its own name with case kept, values as strings (multi-line values as
// "\n"-joined continuation lines with their leading blank), and Files and
// Checksums-* as lists of objects whose values are strings. It boxes its
// strings through bx and takes the list fields' words from fr, both
// shared with the upload payload of the same .changes.
func compatPayloadIn(ch *Changes, bx *boxes, fr *fieldRows) map[string]any {
	out := make(map[string]any, len(ch.Fields))
	for _, f := range ch.Fields {
		switch kind := lowerKind(f.Name); kind {
		case "files":
			rows := fr.get(ch, f.Name, 5)
			list := make(parsers.Objects, len(rows)/5)
			for i := range list {
				w := rows[5*i : 5*i+5]
				list[i] = parsers.Object{{Key: "md5sum", Value: w[0]}, {Key: "name", Value: bx.str(w[4])}, {Key: "priority", Value: bx.str(w[3])}, {Key: "section", Value: bx.str(w[2])}, {Key: "size", Value: bx.str(w[1])}}
			}
			out[f.Name] = list
		case "checksums-sha1", "checksums-sha256", "checksums-sha512":
			// kind is f.Name lower-cased (see lowerKind).
			key := strings.TrimPrefix(kind, "checksums-")
			rows := fr.get(ch, f.Name, 3)
			list := make(parsers.Objects, len(rows)/3)
			for i := range list {
				w := rows[3*i : 3*i+3]
				list[i] = parsers.Object{{Key: "name", Value: bx.str(w[2])}, {Key: key, Value: w[0]}, {Key: "size", Value: bx.str(w[1])}} // key: sha1, sha256 or sha512
			}
			out[f.Name] = list
		default:
			if _, dup := out[f.Name]; !dup {
				out[f.Name] = f.Value
			}
		}
	}
	return out
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
