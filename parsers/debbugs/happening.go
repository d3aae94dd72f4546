package debbugs

import (
	"strconv"
	"strings"

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
func (b *bugMail) happening(kind string) string {
	m := b.m
	switch kind {
	case "control":
		if id := answered(&m.Header); id != "" {
			return "debbugs transcript\x00" + id
		}
		return ""
	case "report", "followup":
		if b.bug == 0 || m.MessageID == "" {
			return ""
		}
		return "debbugs bug " + strconv.Itoa(b.bug) + "\x00mid:" + m.MessageID
	}
	if h := handlerID(m.MessageID, b.bug); h != "" {
		return "debbugs bug " + strconv.Itoa(b.bug) + "\x00" + h
	}
	return ""
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
