package parsers

import "strings"

// LoopMarker is mailgw's own loop marker. mailgw treats a mail as its own
// (and never publishes it) when it carries an X-Mailgw-Loop header (any
// value) or an X-Loop header whose value starts with "mailgw"
// (case-insensitive: "mailgw", "mailgw@host", "mailgw-prod", …). Anything
// mailgw sends itself carries "X-Loop: mailgw".
const LoopMarker = "mailgw"

// Guard returns why m must never become an event (Kind RefusedLoop,
// RefusedDSN or RefusedAutoReply), or the zero Refusal when it may.
// It is what Classify runs first. The guards, in order:
//
//   - loop: the mail carries mailgw's own loop marker (see LoopMarker);
//   - delivery status notifications (RFC 3464): Content-Type
//     multipart/report with report-type=delivery-status, or any
//     message/delivery-status part (any other multipart/report, such as
//     a read receipt, is refused as an automatic report too);
//   - auto-replies (RFC 3834): Auto-Submitted: auto-replied (also
//     auto-notified, RFC 5436), Precedence: auto_reply, or an X-Autoreply
//     or X-Autorespond header other than "no". Auto-Submitted:
//     auto-generated is NOT a guard: dak and other Debian services set it
//     on every mail mailgw exists to publish.
func Guard(m *Message) Refusal {
	h := &m.Header
	if h.Has("X-Mailgw-Loop") {
		return Refusal{RefusedLoop, "loop: mail carries mailgw's own loop marker (X-Mailgw-Loop)"}
	}
	for _, v := range h.Values("X-Loop") {
		if hasPrefixFold(strings.TrimSpace(v), LoopMarker) {
			return Refusal{RefusedLoop, "loop: mail carries mailgw's own loop marker (X-Loop: " + clip(v, 80) + ")"}
		}
	}
	if r := dsnReason(m); r.Kind != "" {
		return r
	}
	return autoReplyReason(h)
}

// dsnReason recognises RFC 3464 delivery status notifications (and
// refuses any other RFC 6522 report as an automatic reply).
func dsnReason(m *Message) Refusal {
	if m.ContentType == "multipart/report" {
		_, params, _ := parseMediaType(m.Header.Get("Content-Type"))
		rt := strings.ToLower(params["report-type"])
		if rt == "delivery-status" || rt == "global-delivery-status" {
			return Refusal{RefusedDSN, "delivery status notification (RFC 3464: multipart/report; report-type=" + rt + ")"}
		}
		return Refusal{RefusedAutoReply, "automatic report (RFC 6522: multipart/report; report-type=" + clip(orNone(rt), 40) + ")"}
	}
	for _, p := range m.Parts {
		if p.ContentType == "message/delivery-status" || p.ContentType == "message/global-delivery-status" {
			return Refusal{RefusedDSN, "delivery status notification (RFC 3464: " + p.ContentType + " part)"}
		}
	}
	return Refusal{}
}

// autoReplyReason recognises RFC 3834 auto-replies and vacation mail.
func autoReplyReason(h *Header) Refusal {
	for _, v := range h.Values("Auto-Submitted") {
		// The keyword is the first token; parameters (";") and comments
		// ("(vacation)") may follow.
		tok := strings.ToLower(strings.TrimSpace(v))
		if i := strings.IndexAny(tok, "; \t("); i >= 0 {
			tok = tok[:i]
		}
		if tok == "auto-replied" || tok == "auto-notified" {
			return Refusal{RefusedAutoReply, "auto-reply (RFC 3834: Auto-Submitted: " + tok + ")"}
		}
	}
	for _, v := range h.Values("Precedence") {
		if p := strings.ToLower(strings.TrimSpace(v)); p == "auto_reply" || p == "auto-reply" {
			return Refusal{RefusedAutoReply, "auto-reply (Precedence: " + p + ")"}
		}
	}
	for _, k := range []string{"X-Autoreply", "X-Autorespond"} {
		for _, v := range h.Values(k) {
			if x := strings.ToLower(strings.TrimSpace(v)); x != "no" && x != "false" && x != "0" {
				return Refusal{RefusedAutoReply, "auto-reply (" + k + ": " + clip(v, 40) + ")"}
			}
		}
	}
	return Refusal{}
}

// hasPrefixFold is strings.HasPrefix ignoring ASCII case.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// clip bounds s to n bytes (at a rune boundary) for use in a reason.
func clip(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	return boundText(s, n) + "…"
}
