package debbugs

import (
	"strconv"
	"strings"
	"time"

	"github.com/debian/mailgw/parsers"
)

// happening identifies the bug event of b whichever copy of debbugs'
// mail announces it (parsers.Event.Happening); "" when the mail does not
// carry what identifies it, and the event keeps the mail's identity.
//
//   - report and followup: the bug number and the Message-ID of the mail
//     debbugs received, which every copy it sends keeps (to the list, to
//     the maintainer, to the tracker, into the bug's .log), while the
//     same mail sent to two bugs is two happenings;
//   - close, ack, forwarded, submitter-changed and error: the bug number
//     and debbugs' handler id, the receipt its own Message-ID names
//     ("handler.N.DN.TIMEPID.ackdone"): the notice to the closer
//     ("closed N") and the one to the submitter ("they-closed N") share
//     it, a bug merged with it closed by the same mail has another
//     number;
//   - control: the control message the transcript answers (its
//     In-Reply-To, else the last References entry).
//
// year is the year of debbugs' handler id where the happening has one
// (a notice's copy in a .log has no Date header, the one delivered has
// the one the MTA added), else 0: a received mail's copies keep its Date.
func (b *bugMail) happening(kind string) (h string, year int) {
	m := b.m
	switch kind {
	case "control":
		if id := answered(&m.Header); id != "" {
			return "debbugs transcript\x00" + id, handlerYear(m.MessageID)
		}
		return "", 0
	case "report", "followup":
		if b.bug == 0 || m.MessageID == "" {
			return "", 0
		}
		return "debbugs bug " + strconv.Itoa(b.bug) + "\x00mid:" + m.MessageID, 0
	}
	if h := handlerID(m.MessageID, b.bug); h != "" {
		return "debbugs bug " + strconv.Itoa(b.bug) + "\x00" + h, handlerYear(m.MessageID)
	}
	return "", 0
}

// handlerYear returns the year (UTC) of the time in a debbugs handler
// Message-ID ("handler.N.CODE.TIMEPID.SUFFIX@…" or
// "handler.s.C.TIMEPID.transcript@…"), 0 for any other. TIMEPID is the
// Unix time followed by the process id: ten digits of time from
// September 2001 on, nine before, and a nine-digit time (1973–2001)
// starts with a digit that makes its first ten digits a time past 2100.
func handlerYear(mid string) int {
	local, _, _ := strings.Cut(mid, "@")
	parts := strings.Split(local, ".")
	if len(parts) < 4 || parts[0] != "handler" || !allDigits(parts[3]) {
		return 0
	}
	tp := parts[3]
	for _, n := range []int{10, 9} {
		if len(tp) < n {
			continue
		}
		sec, err := strconv.ParseInt(tp[:n], 10, 64)
		if err == nil && sec >= 1e8 && sec < 4102444800 { // 1973 to 2100
			return time.Unix(sec, 0).UTC().Year()
		}
	}
	return 0
}

// handlerID returns "handler.N.CODE.TIMEPID" from a Message-ID debbugs
// made, "handler.N.CODE.TIMEPID.SUFFIX@domain", when N is bug; "" for
// any other Message-ID.
func handlerID(mid string, bug int) string {
	local, _, ok := strings.Cut(mid, "@")
	if !ok || bug == 0 || !strings.HasPrefix(local, "handler.") {
		return ""
	}
	parts := strings.SplitN(local, ".", 5)
	if len(parts) != 5 || parts[1] != strconv.Itoa(bug) || parts[2] == "" || !allDigits(parts[3]) {
		return ""
	}
	return local[:len(parts[0])+len(parts[1])+len(parts[2])+len(parts[3])+3]
}

// answered returns the id of the message a reply answers: the first id
// in In-Reply-To, else the last in References, without angle brackets.
func answered(h *parsers.Header) string {
	if id := msgID(h.Get("In-Reply-To"), false); id != "" {
		return id
	}
	return msgID(h.Get("References"), true)
}

// msgID returns the first (or last) "<id>" of v, without the brackets.
func msgID(v string, last bool) string {
	id := ""
	for {
		i := strings.IndexByte(v, '<')
		if i < 0 {
			return id
		}
		j := strings.IndexByte(v[i:], '>')
		if j < 0 {
			return id
		}
		if s := strings.TrimSpace(v[i+1 : i+j]); s != "" {
			id = s
			if !last {
				return id
			}
		}
		v = v[i+j+1:]
	}
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
