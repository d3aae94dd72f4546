// Package meaning says what an event means to a person: the one-line
// summary read in IRC or a desktop notification, the web page it is
// about, the source packages and the people involved. These are
// msg.mailgw.summary, url, packages and people of every event mailgw
// builds (docs/topics.md, "Meaning"); the rules for every topic are in
// this package and nowhere else, and the pipeline's Build is their only
// caller.
//
// The rules read the payload as the parsers make it (Go strings, ints,
// slices, maps and parsers.Object values) and never fail: a field that is
// missing or of another type is left out of the summary, and the summary
// falls back to the mail's subject and then to the topic.
package meaning

import (
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Meaning is what an event means to a person.
type Meaning struct {
	// Summary is one line of plain text, at most MaxSummary runes, never
	// empty.
	Summary string
	// URL is the page the event is about (bugs.debian.org for a bug,
	// the NEW queue for a package in NEW, tracker.debian.org for any
	// other package); "" when the event names neither.
	URL string
	// Packages are the source packages the event is about (the binary
	// or pseudo-package names where debbugs knows no source), each a
	// valid Debian package name, in first-seen order, without
	// duplicates.
	Packages []string
	// People are the bare, lower-case e-mail addresses of the people
	// the event names (uploader, maintainer, submitter, closer, …),
	// in first-seen order, without duplicates.
	People []string
}

// MaxSummary bounds a summary, in runes; a longer one is cut and ends
// in "…".
const MaxSummary = 200

// Hosts of the URLs the rules make.
const (
	bugsURL    = "https://bugs.debian.org/"
	trackerURL = "https://tracker.debian.org/pkg/"
	newURL     = "https://ftp-master.debian.org/new/"
)

// Describe returns the meaning of an event named name
// ("service.object.event") whose msg is msg (its payload and "mail").
func Describe(name string, msg map[string]any) Meaning {
	service, rest, _ := strings.Cut(name, ".")
	object, event, _ := strings.Cut(rest, ".")
	var d desc
	p := payload(msg)
	switch service {
	case "dak":
		d.dak(event, p)
	case "debbugs":
		d.debbugs(event, p)
	case "pts", "tracker":
		d.tracker(event, p)
	case "debmessenger":
		d.debmessenger(object, event, p)
	}
	if d.summary == "" {
		d.summary = mailSubject(msg)
	}
	if d.summary == "" {
		d.summary = name
	}
	return Meaning{Summary: oneLine(d.summary), URL: d.url, Packages: d.packages, People: d.people}
}

// AddTo writes the meaning into msg.mailgw (mg): "summary", "url" (null
// when ""), "packages" and "people" (empty lists rather than null).
func (m Meaning) AddTo(mg map[string]any) {
	mg["summary"] = m.Summary
	if m.URL == "" {
		mg["url"] = nil
	} else {
		mg["url"] = m.URL
	}
	mg["packages"] = nonNil(m.Packages)
	mg["people"] = nonNil(m.People)
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// desc collects a meaning while a rule runs.
type desc struct {
	summary, url     string
	packages, people []string
	// seen holds the packages once there are many (a control transcript
	// of hundreds of bugs), so that adding one stays O(1).
	seen map[string]bool
}

// pkg adds package names that are valid Debian package names (a
// "src:" prefix dropped), once each.
func (d *desc) pkg(names ...string) {
	for _, n := range names {
		n = strings.TrimPrefix(strings.TrimSpace(n), "src:")
		if !isPackage(n) {
			continue
		}
		if d.seen == nil && len(d.packages) >= 16 {
			d.seen = make(map[string]bool, 2*len(d.packages))
			for _, p := range d.packages {
				d.seen[p] = true
			}
		}
		if d.seen != nil {
			if d.seen[n] {
				continue
			}
			d.seen[n] = true
		} else if contains(d.packages, n) {
			continue
		}
		d.packages = append(d.packages, n)
	}
}

// person adds the address of p's field key, taken from its
// "<key>_email" sibling where the payload has one, else parsed from the
// field itself ("Name <addr>" or a bare address; a list of them too).
func (d *desc) person(p getter, keys ...string) {
	for _, k := range keys {
		if e := strs(p(k + "_email")); len(e) > 0 {
			d.addPeople(e...)
			continue
		}
		for _, v := range strs(p(k)) {
			if _, a, ok := splitAddress(v); ok {
				d.addPeople(a)
			} else if l, err := mail.ParseAddressList(v); err == nil { // "A <a@x>, B <b@y>"
				for _, a := range l {
					d.addPeople(a.Address)
				}
			}
		}
	}
}

func (d *desc) addPeople(addrs ...string) {
	for _, a := range addrs {
		a = strings.ToLower(strings.TrimSpace(a))
		at := strings.LastIndexByte(a, '@')
		if at > 0 && len(a) <= 254 && !serviceDomains[a[at+1:]] && !strings.ContainsFunc(a, unsafeInAddress) && !contains(d.people, a) {
			d.people = append(d.people, a)
		}
	}
}

// serviceDomains are the mail domains of Debian's services, whose
// addresses (owner@bugs.debian.org, ftpmaster@ftp-master.debian.org, a
// tracker team's forward address) are no person's.
var serviceDomains = map[string]bool{
	"bugs.debian.org":        true,
	"ftp-master.debian.org":  true,
	"release.debian.org":     true,
	"tracker.debian.org":     true,
	"packages.qa.debian.org": true,
}

func unsafeInAddress(r rune) bool {
	return unicode.IsSpace(r) || unicode.IsControl(r) || r == '<' || r == '>'
}

// trackerPage points at the first package's tracker page.
func (d *desc) trackerPage() {
	if d.url == "" && len(d.packages) > 0 {
		d.url = trackerURL + url.PathEscape(d.packages[0])
	}
}

// bugPage points at bug n's page.
func (d *desc) bugPage(n int64) {
	if n > 0 {
		d.url = bugsURL + strconv.FormatInt(n, 10)
	}
}

// isPackage reports whether s is a Debian package name (Debian Policy
// 5.6.1; upper case is allowed for the names of old mails), at most 100
// bytes.
func isPackage(s string) bool {
	if s == "" || len(s) > 100 || !alnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !alnum(c) && c != '+' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

func alnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// who names a person in a summary: the login of a debian.org address
// (as Debian people know each other), else the display name, else the
// address.
func who(s string) string {
	name, addr, ok := splitAddress(s)
	if !ok {
		return strings.TrimSpace(s)
	}
	if len(addr) > len("@debian.org") && strings.EqualFold(addr[len(addr)-len("@debian.org"):], "@debian.org") {
		return strings.ToLower(addr[:len(addr)-len("@debian.org")])
	}
	if name != "" {
		return name
	}
	return addr
}

// splitAddress splits one person, "Name <addr>" as the parsers write it
// or a bare address, into its display name and address; anything else
// is left to net/mail.
func splitAddress(s string) (name, addr string, ok bool) {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '<'); i >= 0 && strings.HasSuffix(s, ">") {
		name, addr = strings.TrimSpace(s[:i]), s[i+1:len(s)-1]
		if plainAddress(addr) && !strings.ContainsAny(name, "\"<>,;") {
			return name, addr, true
		}
	} else if plainAddress(s) {
		return "", s, true
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return "", "", false
	}
	return a.Name, a.Address, true
}

// plainAddress reports whether s is local@domain with nothing odd in it.
func plainAddress(s string) bool {
	at := strings.IndexByte(s, '@')
	return at > 0 && at < len(s)-1 && !strings.ContainsFunc(s, func(r rune) bool {
		return r <= ' ' || r > '~' || strings.ContainsRune("\"<>(),;:[]\\", r)
	})
}

// oneLine makes s one line of printable text: runs of white space and
// control characters become one space, and it is cut to MaxSummary
// runes.
func oneLine(s string) string {
	if cleanASCII(s) {
		return s
	}
	var b strings.Builder
	b.Grow(min(len(s), 4*MaxSummary))
	n, space := 0, false
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			space = b.Len() > 0
			continue
		}
		if space {
			if n++; n > MaxSummary {
				break
			}
			b.WriteByte(' ')
			space = false
		}
		if n++; n > MaxSummary {
			break
		}
		b.WriteRune(r)
	}
	out := b.String()
	if n > MaxSummary {
		_, size := utf8.DecodeLastRuneInString(out)
		out = strings.TrimRight(out[:len(out)-size], " ") + "…"
	}
	return out
}

// cleanASCII reports whether s is already what oneLine makes of it:
// printable ASCII of at most MaxSummary bytes, single spaces between
// words (the common case, kept without copying).
func cleanASCII(s string) bool {
	if len(s) > MaxSummary || s == "" || s[0] == ' ' || s[len(s)-1] == ' ' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c > '~' || c == ' ' && s[i+1] == ' ' {
			return false
		}
	}
	return true
}

// firstLine returns the first line of s that says something: blank
// lines and a salutation ("Hi,") are skipped, and a line that ends in a
// colon gets the next one after it.
func firstLine(s string) string {
	out := ""
	for l := range strings.Lines(s) {
		l = strings.TrimSpace(l)
		switch {
		case l == "" || out == "" && strings.HasSuffix(l, ",") && len(l) < 40:
			continue
		case out != "":
			return out + " " + l
		case strings.HasSuffix(l, ":"):
			out = l
		default:
			return l
		}
	}
	return out
}

// mailSubject returns msg.mail.subject.
func mailSubject(msg map[string]any) string {
	return str(getterOf(msg["mail"])("subject"))
}
