package amqpout

import (
	"encoding/json"
	"net/mail"
	"strings"

	amqp "github.com/rabbitmq/amqp091-go"
)

// SchemaVersion is the version part of every schema name; it changes
// when the payloads of mailgw's topics change incompatibly.
const SchemaVersion = "v1"

// SchemaName is the fedora_messaging_schema header of an event on topic:
// "mailgw.<service>.<object>.<event>.v1", the topic without its prefix
// and environment (e.g. mailgw.dak.package.upload.v1), the entry-point
// name a Python schema package registers for it (fedora-messaging names
// them <app>.<topic>.<version>, such as bodhi.update.comment.v1). A
// topic outside the prefix keeps all of its words.
func (fm Format) SchemaName(topic string) string {
	name := topic
	if rest, ok := strings.CutPrefix(topic, fm.TopicPrefix+"."); ok && fm.TopicPrefix != "" {
		if _, n, ok := strings.Cut(rest, "."); ok { // the environment
			name = n
		}
	}
	return "mailgw." + name + "." + SchemaVersion
}

// maxSubjectHeaders bounds the package and the user headers of one
// message each (a bug can be reassigned to many packages; a payload is
// what a mail sender wrote), and maxHeaderKey the length of a header
// name (an AMQP short string).
const (
	maxSubjectHeaders = 64
	maxHeaderKey      = 255
)

// subjects are the fields of a msg that say what and whom an event is
// about, and how important it is. debmessenger's payloads spell some
// keys their own way ("Source", "Changed-By").
type subjects struct {
	source, pkg string
	sources     []string
	// addrs are address fields as written ("Name <addr>"); emails the
	// bare addresses of their <field>_email siblings, where a payload
	// has them.
	addrs, emails []string
	sev           string
	// mgPackages and mgPeople, where an event carries them in
	// msg.mailgw, are its own lists of what and whom it is about, and
	// are used as they are.
	mgPackages, mgPeople []string
}

// scan reads the subjects from msg. A field of another type than
// expected (a payload's own "severity" number, say) is left out. The
// keys of a canonical msg are sorted: nothing is wanted after
// "submitter".
func (s *subjects) scan(msg []byte) error {
	return members(msg, func(k, v []byte) error {
		if string(k) > "submitter" {
			return errStop
		}
		switch string(k) {
		case "source", "Source":
			s.source, _ = str(v)
		case "package":
			s.pkg, _ = str(v)
		case "sources":
			json.Unmarshal(v, &s.sources)
		case "changed_by", "Changed-By", "maintainer", "Maintainer", "submitter", "closed_by", "from":
			if a, err := str(v); err == nil && a != "" {
				s.addrs = append(s.addrs, a)
			}
		case "changed_by_email", "maintainer_email", "submitter_email", "closed_by_email", "from_email":
			if a, err := str(v); err == nil && a != "" {
				s.emails = append(s.emails, a)
			}
		case "severity":
			s.sev, _ = str(v)
		case "mailgw":
			return members(v, func(k, v []byte) error {
				switch string(k) {
				case "packages":
					json.Unmarshal(v, &s.mgPackages)
				case "people":
					json.Unmarshal(v, &s.mgPeople)
				}
				return nil
			})
		}
		return nil
	})
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

// packages returns the source packages the event is about.
func (s *subjects) packages() []string {
	if len(s.mgPackages) > 0 {
		return s.mgPackages
	}
	return append([]string{s.source, s.pkg}, s.sources...)
}

// people returns the e-mail addresses of the people the event is about,
// bare and lower-case.
func (s *subjects) people() []string {
	switch {
	case len(s.mgPeople) > 0:
		return s.mgPeople
	case len(s.emails) > 0:
		return s.emails
	}
	var out []string
	for _, f := range s.addrs {
		if a, err := mail.ParseAddress(f); err == nil {
			out = append(out, strings.ToLower(a.Address))
		}
	}
	return out
}

// addHeaders sets a true header per package and per person.
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
	add(hdrPackagePrefix, s.packages())
	add(hdrUserPrefix, s.people())
}
