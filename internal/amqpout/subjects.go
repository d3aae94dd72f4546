package amqpout

import (
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
// about, and how important it is. encoding/json matches keys without
// regard to case, so debmessenger's "Source" and "Maintainer" count too.
type subjects struct {
	Source  string   `json:"source"`
	Sources []string `json:"sources"`
	Package string   `json:"package"`

	ChangedBy  string `json:"changed_by"`
	Maintainer string `json:"maintainer"`
	Submitter  string `json:"submitter"`
	ClosedBy   string `json:"closed_by"`
	From       string `json:"from"`

	Severity string `json:"severity"`

	// Mailgw.Packages and People, where an event carries them, are the
	// event's own list of what and whom it is about, and are used as
	// they are.
	Mailgw struct {
		Packages []string `json:"packages"`
		People   []string `json:"people"`
	} `json:"mailgw"`
}

// severity is fedora_messaging_severity: a warning for what a
// maintainer must act on (a rejected upload, a release-critical bug
// report), information otherwise.
func (s *subjects) severity(topic string) int {
	switch {
	case strings.HasSuffix(topic, ".dak.package.reject"):
		return SeverityWarning
	case strings.HasSuffix(topic, ".debbugs.bug.report"):
		switch s.Severity {
		case "critical", "grave", "serious":
			return SeverityWarning
		}
	}
	return SeverityInfo
}

// packages returns the source packages the event is about.
func (s *subjects) packages() []string {
	if len(s.Mailgw.Packages) > 0 {
		return s.Mailgw.Packages
	}
	return append([]string{s.Source, s.Package}, s.Sources...)
}

// people returns the e-mail addresses of the people the event is about,
// bare and lower-case.
func (s *subjects) people() []string {
	if len(s.Mailgw.People) > 0 {
		return s.Mailgw.People
	}
	var out []string
	for _, f := range []string{s.ChangedBy, s.Maintainer, s.Submitter, s.ClosedBy, s.From} {
		if f == "" {
			continue
		}
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
