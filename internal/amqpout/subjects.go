package amqpout

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/debian/mailgw/schemas"
)

// schemaName is the fedora_messaging_schema header of an event on topic:
// the entry-point name a Python schema package registers for the
// schema of its msg (schemas.EntryPoint: mailgw.dak.package.upload.v2),
// and for a topic mailgw has no schema for, fedora-messaging's own base
// schema, base.message.
func schemaName(topic string) string {
	if name, ok := schemaNames.Load(topic); ok {
		return name.(string)
	}
	name := schemas.EntryPoint(topic)
	if name == "" {
		name = "base.message"
	}
	// Remembered per topic, for at most maxSchemaNames topics: working
	// it out took a tenth of a message's CPU time (BenchmarkMessage).
	if schemaNamesN.Load() < maxSchemaNames {
		if _, had := schemaNames.LoadOrStore(topic, name); !had {
			schemaNamesN.Add(1)
		}
	}
	return name
}

// schemaNames caches schemaName's answers (topic to name), at most
// maxSchemaNames of them.
var (
	schemaNames  sync.Map
	schemaNamesN atomic.Int64
)

const maxSchemaNames = 1024

// maxSubjectHeaders bounds the package and the user headers of one
// message each (a bug can be reassigned to many packages; a payload is
// what a mail sender wrote), and maxHeaderKey the length of a header
// name (an AMQP short string).
const (
	maxSubjectHeaders = 64
	maxHeaderKey      = 255
)

// subjects are what a msg says about whom and what it is about, and how
// important it is: msg.mailgw.packages and people (the source packages
// and the bare addresses; docs/topics.md, "Meaning") and a bug report's
// severity. packages and people are the names as JSON strings decode
// them; on the fast path (plainStrList) they point into msg. A subjects
// is reused from one message to the next (reset).
type subjects struct {
	packages, people [][]byte
	sev              string
}

// reset empties s, keeping its slices.
func (s *subjects) reset() {
	clear(s.packages)
	clear(s.people)
	s.packages, s.people, s.sev = s.packages[:0], s.people[:0], ""
}

// scan reads the subjects from msg. A field of another type than
// expected is left out. The keys of a canonical msg are sorted: nothing
// is wanted after "severity". (The outlet's builder reads them without
// walking the members before mailgw: scanMsg.)
func (s *subjects) scan(msg []byte) error {
	return members(msg, s.member)
}

// member is scan's handling of one of msg's members.
func (s *subjects) member(k, v []byte) error {
	switch key := string(k); {
	case key > "severity":
		return errStop
	case key == "severity":
		s.sev, _ = str(v)
	case key == "mailgw":
		return members(v, s.mailgwMember)
	}
	return nil
}

// mailgwMember is scan's handling of one of msg.mailgw's members.
func (s *subjects) mailgwMember(k, v []byte) error {
	switch string(k) {
	case "packages":
		s.packages = strList(s.packages[:0], v)
	case "people":
		s.people = strList(s.people[:0], v)
	}
	return nil
}

// mailgwOn reads the subjects from the members of an object in b from
// the member mailgw (mailgwKey) at b[i] on, to the object's end: it
// returns the index after the object's closing brace. (The mailgw
// object is walked once, not skipped and then read.)
func (s *subjects) mailgwOn(b []byte, i int) (int, error) {
	end, err := walkMembers(b, i+len(mailgwKey), false, s.mailgwMember)
	if err != nil || end < 0 {
		return 0, errScan
	}
	end = skipSpace(b, end)
	switch {
	case end < len(b) && b[end] == '}':
		return end + 1, nil
	case end < len(b) && b[end] == ',':
		return memberListEnd(b, end+1, s.member)
	}
	return 0, errScan
}

// mailgwKey is msg's member mailgw up to the opening brace of its value
// (an object).
const mailgwKey = `"mailgw":{`

// findMailgw returns the index from from on of the next mailgw key of an
// object in b (mailgwKey after '{' or ','), of whatever object: in JSON
// these bytes are a key (a quote inside a string is escaped, and a
// string followed by ':' is a key). It looks for the brace, rare in a
// msg, and then at the bytes before it. With bytes.Index on the whole
// key (2 µs a message), and the mailgw object walked twice, the builder
// took 8.7 µs per message of a replay's journal; with findMailgw and
// mailgwOn 4.4.
func findMailgw(b []byte, from int) (int, bool) {
	for from < len(b) {
		k := bytes.IndexByte(b[from:], '{')
		if k < 0 {
			return 0, false
		}
		brace := from + k
		i := brace + 1 - len(mailgwKey)
		if i >= 1 && string(b[i:brace+1]) == mailgwKey && (b[i-1] == '{' || b[i-1] == ',') {
			return i, true
		}
		from = brace + 1
	}
	return 0, false
}

// strList decodes a JSON array of strings as encoding/json does into a
// []string (nil for what is not an array), appended to dst. The
// canonical array of plain strings that the journal holds is split in
// place: encoding/json took a fifth of a message's CPU time
// (BenchmarkMessage).
func strList(dst [][]byte, v []byte) [][]byte {
	if out, ok := plainStrList(dst, v); ok {
		return out
	}
	var ss []string
	json.Unmarshal(v, &ss) // an element of another type is left "", as before
	for _, s := range ss {
		dst = append(dst, []byte(s))
	}
	return dst
}

// plainStrList splits ["a","b",…] of strings without escapes, appending
// each (without its quotes, in place in v) to dst; ok is false for
// anything else.
func plainStrList(dst [][]byte, v []byte) (out [][]byte, ok bool) {
	if len(v) < 2 || v[0] != '[' || v[len(v)-1] != ']' || bytes.IndexByte(v, '\\') >= 0 {
		return dst, false
	}
	out = dst
	in := v[1 : len(v)-1]
	for len(in) > 0 {
		if in[0] != '"' {
			return dst, false
		}
		end := bytes.IndexByte(in[1:], '"')
		if end < 0 {
			return dst, false
		}
		out = append(out, in[1:1+end:1+end])
		in = in[2+end:]
		if len(in) > 0 {
			if in[0] != ',' || len(in) == 1 {
				return dst, false
			}
			in = in[1:]
		}
	}
	return out, true
}

// severity is fedora_messaging_severity: a warning for what a
// maintainer must act on (a rejected upload, a release-critical bug
// report), information otherwise.
func (s *subjects) severity(topic string) int {
	switch {
	case strings.HasSuffix(topic, ".dak.package.reject"):
		return SeverityWarning
	case strings.HasSuffix(topic, ".debbugs.bug.report"):
		switch s.sev {
		case "critical", "grave", "serious":
			return SeverityWarning
		}
	}
	return SeverityInfo
}

// addHeaders sets a true header per package (fedora-messaging's "rpm"
// kind, which it fills from a message's packages) and per person ("user",
// from its usernames: for Debian, e-mail addresses). key is scratch
// space for the header names.
func (s *subjects) addHeaders(h amqp.Table, key []byte) []byte {
	add := func(prefix string, ids [][]byte) {
		n := 0
		for _, id := range ids {
			key = append(append(key[:0], prefix...), id...)
			if len(id) == 0 || len(key) > maxHeaderKey || h[string(key)] != nil {
				continue
			}
			if n++; n > maxSubjectHeaders {
				return
			}
			h[string(key)] = true
		}
	}
	add(hdrPackagePrefix, s.packages)
	add(hdrUserPrefix, s.people)
	return key
}
