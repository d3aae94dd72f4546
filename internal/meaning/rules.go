package meaning

import (
	"net/url"
	"strconv"
	"strings"
)

// The rules, one method per service; docs/topics.md ("Meaning") says
// them in words and testdata/meaning.txt shows what they give on every
// golden mail.

// dak: the archive.
func (d *desc) dak(event string, p getter) {
	source, version := str(p("source")), str(p("version"))
	sv := strings.TrimSpace(source + " " + version)
	dist := strings.Join(strs(p("distribution")), ", ")
	d.pkg(source)
	switch event {
	case "upload":
		d.upload(sv, dist, str(p("changed_by")))
		d.person(p, "changed_by", "maintainer")
	case "policy":
		d.summary = sv + " accepted into the " + orWord(str(p("queue")), "policy") + " queue" + suffix(" for ", dist)
		d.person(p, "changed_by", "maintainer")
	case "new":
		if str(p("state")) == "accepted" {
			d.summary = sv + " accepted from NEW" + suffix(" into ", dist)
			break
		}
		d.summary = sv + " is NEW" + suffix(" in ", dist)
		if isPackage(source) && validVersion(version) {
			d.url = newURL + url.PathEscape(source+"_"+noEpoch(version)) + ".html"
		}
	case "reject":
		reason := firstLine(str(p("reason")))
		reason = strings.TrimSpace(strings.TrimPrefix(reason, "Rejected:"))
		d.summary = sv + " rejected" + suffix(": ", reason)
	case "remove":
		var names []string
		for _, o := range objects(p("packages")) {
			if n := str(o("name")); n != "" && !contains(names, n) {
				names = append(names, n)
			}
		}
		d.pkg(strs(p("sources"))...)
		if len(d.packages) == 0 {
			d.pkg(names...)
		}
		d.summary = "removed" + suffix(" from ", str(p("suite"))) + ": " + listOf(names, 5) + suffix(" (", firstLine(str(p("reason"))), ")")
	case "receive":
		what := orWord(str(p("changes_file")), sv)
		if ok, _ := p("success").(bool); ok {
			d.summary = what + " received by the upload queue"
		} else {
			d.summary = what + ": processing by the upload queue failed"
		}
	default:
		subject := str(p("subject"))
		if source != "" && !mentions(subject, source) {
			subject = source + ": " + subject
		}
		d.summary = subject
		if n, ok := num(p("bug")); ok {
			d.bugPage(n)
		}
	}
	d.trackerPage()
}

// upload is the summary of an accepted upload.
func (d *desc) upload(sv, dist, changedBy string) {
	if changedBy == "" {
		d.summary = sv + " accepted" + suffix(" into ", dist)
		return
	}
	d.summary = who(changedBy) + " uploaded " + sv + suffix(" to ", dist)
}

// debbugs: the bug tracker.
func (d *desc) debbugs(event string, p getter) {
	d.pkg(strs(p("sources"))...)
	if len(d.packages) == 0 {
		d.pkg(strs(p("packages"))...)
	}
	d.person(p, "submitter", "from", "closed_by", "to", "new_submitter", "old_submitter", "forwarded_to")
	title := str(p("title"))
	n, _ := num(p("bug"))
	switch event {
	case "report":
		d.summary = d.bugLine(n, "reported"+suffix(" by ", who(str(p("submitter")))), title)
	case "followup":
		d.summary = d.bugLine(n, "reply"+suffix(" from ", who(str(p("from")))), title)
	case "close":
		d.summary = d.bugLine(n, "closed"+suffix(" by ", who(str(p("closed_by"))))+suffix(" in ", str(p("fixed_version"))), title)
	case "ack":
		d.summary = d.bugLine(n, "acknowledged", title)
	case "forwarded":
		d.summary = d.bugLine(n, "forwarded"+suffix(" to ", str(p("forwarded_to"))), title)
	case "submitter-changed":
		d.summary = d.bugLine(n, "submitter changed"+suffix(" to ", who(str(p("new_submitter")))), title)
	case "error":
		d.summary = d.bugLine(n, "refused"+suffix(" (", str(p("error")), ")"), orWord(title, str(p("subject"))))
	case "control":
		bugs := nums(p("bugs"))
		if len(bugs) > 0 {
			n = bugs[0]
		}
		d.summary = d.control(bugs, objects(p("actions")), who(str(p("to"))))
	default:
		d.summary = d.bugLine(n, event, title)
	}
	d.bugPage(n)
}

// bugLine is "Bug#N (packages): what: title", the package prefix that
// debbugs titles often carry left out.
func (d *desc) bugLine(n int64, what, title string) string {
	var b strings.Builder
	if n > 0 {
		b.WriteString("Bug#" + strconv.FormatInt(n, 10))
	} else {
		b.WriteString("debbugs")
	}
	if len(d.packages) > 0 {
		b.WriteString(" (" + listOf(d.packages, 3) + ")")
	}
	b.WriteString(": " + what)
	for _, pk := range d.packages {
		if t, ok := strings.CutPrefix(title, pk+":"); ok {
			title = t
			break
		}
	}
	if title = strings.TrimSpace(title); title != "" {
		b.WriteString(": " + title)
	}
	return b.String()
}

// control is the summary of a control transcript: the commands of one
// bug, or how many bugs which commands changed.
func (d *desc) control(bugs []int64, actions []getter, by string) string {
	var cmds []string
	for _, a := range actions {
		c := str(a("command"))
		if len(bugs) == 1 {
			c = strings.TrimSpace(c + " " + strings.Join(strs(a("args")), " "))
		}
		if c != "" && !contains(cmds, c) {
			cmds = append(cmds, c)
		}
	}
	what := strings.Join(cmds, "; ")
	if len(cmds) > 5 {
		what = strings.Join(cmds[:5], "; ") + "; …"
	}
	if len(bugs) == 1 {
		return d.bugLine(bugs[0], orWord(what, "control")+suffix(" by ", by), "")
	}
	return strconv.Itoa(len(bugs)) + " bugs changed" + suffix(" by ", by) + suffix(": ", what)
}

// tracker: pts.package.KEYWORD and tracker.package.KEYWORD, a forward
// of the package tracker; a forwarded dak or debbugs mail means what
// its nested event means.
func (d *desc) tracker(keyword string, p getter) {
	pk := str(p("package"))
	d.pkg(pk)
	if n := getterOf(p("event")); n("topic") != nil {
		nested := map[string]any{}
		if pl, ok := n("payload").(map[string]any); ok {
			nested = pl
		}
		in := Describe(str(n("topic")), nested)
		if in.Summary != str(n("topic")) {
			d.summary, d.url = in.Summary, in.URL
		}
		d.pkg(in.Packages...)
		d.addPeople(in.People...)
	}
	if d.summary == "" {
		subject := str(p("subject"))
		if subject != "" && pk != "" && !mentions(subject, pk) {
			subject = pk + suffix(" (", keyword, ")") + ": " + subject
		}
		d.summary = subject
	}
	d.person(p, "from")
	d.trackerPage()
}

// debmessenger: the compatibility events, with debmessenger's names.
func (d *desc) debmessenger(object, event string, p getter) {
	if object == "package" {
		source := str(p("Source"))
		d.pkg(source)
		d.upload(strings.TrimSpace(source+" "+str(p("Version"))), str(p("Distribution")), str(p("Changed-By")))
		d.person(p, "Changed-By", "Maintainer")
		d.trackerPage()
		return
	}
	d.pkg(str(p("source")))
	d.pkg(str(p("package")))
	d.person(p, "from")
	// title is the mail's subject, "Bug#N: …" for most.
	n, _ := strconv.ParseInt(str(p("nb")), 10, 64)
	title := str(p("title"))
	if n > 0 {
		title = strings.TrimPrefix(title, "Bug#"+strconv.FormatInt(n, 10)+":")
	}
	d.summary = d.bugLine(n, orWord(str(p("type")), event), title)
	d.bugPage(n)
	d.trackerPage()
}

// suffix is pre+s+post, or "" when s is empty.
func suffix(pre, s string, post ...string) string {
	if s == "" {
		return ""
	}
	return pre + s + strings.Join(post, "")
}

// orWord is s, or alt when s is empty.
func orWord(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

// listOf joins up to max names with ", ", saying how many more there are.
func listOf(names []string, max int) string {
	if len(names) <= max {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:max], ", ") + " and " + strconv.Itoa(len(names)-max) + " more"
}

// mentions reports whether s names pkg as a word.
func mentions(s, pkg string) bool {
	for i := 0; pkg != ""; {
		j := strings.Index(s[i:], pkg)
		if j < 0 {
			return false
		}
		j += i
		end := j + len(pkg)
		if (j == 0 || !packageByte(s[j-1])) && (end == len(s) || !packageByte(s[end])) {
			return true
		}
		i = j + 1
	}
	return false
}

func packageByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-'
}

// validVersion is a Debian version's character set.
func validVersion(v string) bool {
	if v == "" || len(v) > 100 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(".+-~:", c) >= 0) {
			return false
		}
	}
	return true
}

// noEpoch drops a version's epoch, as dak's file names do.
func noEpoch(v string) string {
	if _, rest, ok := strings.Cut(v, ":"); ok {
		return rest
	}
	return v
}
