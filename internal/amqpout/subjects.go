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
// severity.
type subjects struct {
	packages, people []string
	sev              string
}

// scan reads the subjects from msg. A field of another type than
// expected is left out. The keys of a canonical msg are sorted: nothing
// is wanted after "severity".
func (s *subjects) scan(msg []byte) error {
	return members(msg, func(k, v []byte) error {
		switch key := string(k); {
		case key > "severity":
			return errStop
		case key == "severity":
			s.sev, _ = str(v)
		case key == "mailgw":
			return members(v, func(k, v []byte) error {
				switch string(k) {
				case "packages":
					s.packages = strList(v)
				case "people":
					s.people = strList(v)
				}
				return nil
			})
		}
		return nil
	})
}

// strList decodes a JSON array of strings as encoding/json does into a
// []string (nil for what is not an array). The canonical array of plain
// strings that the journal holds is split in place: encoding/json took a
// fifth of a message's CPU time (BenchmarkMessage).
func strList(v []byte) []string {
	if out, ok := plainStrList(v); ok {
		return out
	}
	var out []string
	json.Unmarshal(v, &out) // an element of another type is left "", as before
	return out
}

// plainStrList splits ["a","b",…] of strings without escapes; ok is
// false for anything else.
func plainStrList(v []byte) (out []string, ok bool) {
	if len(v) < 2 || v[0] != '[' || v[len(v)-1] != ']' || bytes.IndexByte(v, '\\') >= 0 {
		return nil, false
	}
	in := v[1 : len(v)-1]
	out = make([]string, 0, bytes.Count(in, []byte(`","`))+1)
	for len(in) > 0 {
		if in[0] != '"' {
			return nil, false
		}
		end := bytes.IndexByte(in[1:], '"')
		if end < 0 {
			return nil, false
		}
		out = append(out, string(in[1:1+end]))
		in = in[2+end:]
		if len(in) > 0 {
			if in[0] != ',' || len(in) == 1 {
				return nil, false
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
// from its usernames: for Debian, e-mail addresses).
func (s *subjects) addHeaders(h amqp.Table) {
	add := func(prefix string, ids []string) {
		n := 0
		for _, id := range ids {
			k := prefix + id
			if id == "" || len(k) > maxHeaderKey || h[k] != nil {
				continue
			}
			if n++; n > maxSubjectHeaders {
				return
			}
			h[k] = true
		}
	}
	add(hdrPackagePrefix, s.packages)
	add(hdrUserPrefix, s.people)
}
