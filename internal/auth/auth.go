// Package auth decides whether a mail provably came from the service it
// claims to come from (dak, debbugs, the package tracker), before the
// gateway signs events made from it (docs/trust.md).
//
// A Verifier, built from the [trust] configuration, looks at three kinds
// of evidence, once per mail:
//
//   - DKIM (RFC 6376): every DKIM-Signature is checked (dkimsig.go), its
//     key looked up in DNS (package dnsq) through a small TTL cache that
//     keeps it parsed; at most max_signatures per mail, each lookup
//     bounded by dns_timeout;
//   - Authentication-Results (RFC 8601) added by the site's own verifiers
//     (trusted_authserv_ids); every other such field is ignored;
//   - the delivery path, known at intake and carried with the spooled mail
//     (Intake): the SMTP/LMTP client address, the envelope sender the MTA
//     gave mailgw deliver, or the operator's word for a replayed archive.
//
// The service's policy ([trust.<service>]) then says which of them prove
// the mail, and what happens to mail that proves nothing: published with
// auth.trusted = false, or quarantined. A temporary DNS failure that keeps
// a signature of an accepted domain from being checked decides nothing:
// the mail is held (Decision.Retry) and checked again later.
//
// The result goes into every event's msg.mail.auth (Decision.Object),
// except the debmessenger compatibility events, whose shape is frozen.
package auth

import (
	"net/netip"

	"github.com/debian/mailgw/parsers"
)

// Intake is what the gateway knew about a mail's delivery when it took
// the mail in. It travels with the spooled mail in a form no sender can
// forge (spool.Origin, in the spool file's name), never in the mail.
type Intake struct {
	// Relay is the SMTP/LMTP client's address (zero for other intakes).
	Relay netip.Addr
	// Sender is the envelope sender the MTA passed to mailgw deliver
	// (-f or $SENDER); "" when none.
	Sender string
	// Archive is set for mail replayed with --trust-archive: the operator
	// vouches for the archive.
	Archive bool
}

// DKIM results, as RFC 8601 names them. Policy is a signature that
// verified but cannot vouch for what the parsers read (a signed header
// field also present unsigned, or Subject not signed); it proves nothing.
const (
	ResultPass      = "pass"
	ResultFail      = "fail"
	ResultPolicy    = "policy"
	ResultTempError = "temperror"
	ResultPermError = "permerror"
	ResultNone      = "none"
)

// Signature is one DKIM signature of a mail and its result.
type Signature struct {
	Domain   string // d=, lower case
	Selector string // s=
	Result   string // one of the Result constants
	// Reason says why the result is not pass (for logs and reasons).
	Reason string
}

// Decision is what the Verifier concluded about one mail.
type Decision struct {
	// Service is the service whose policy judged the mail ("" when the
	// mail's events have none).
	Service string
	// Trusted is true when the policy's evidence proves the mail; By then
	// names it: "dkim:DOMAIN", "relay:ADDR", "pipe:SENDER" or "archive".
	Trusted bool
	By      string
	// DKIM lists the mail's signatures in header order (at most
	// MaxListed), each with its result; empty when the mail has none or
	// DKIM checking is off.
	DKIM []Signature
	// Retry, when not "", says which temporary failure left the mail
	// undecided: it must not be published or quarantined now, but checked
	// again later (serve keeps it in the spool).
	Retry string
	// Quarantine, when not "", is the reason ("untrusted: …") for which
	// the policy's action sends the mail to quarantine.
	Quarantine string
}

// Object returns the decision as msg.mail.auth:
// {"by": "dkim:…"|"relay:…"|"pipe:…"|"archive"|null,
// "dkim": [{"domain","result","selector"}…], "trusted": bool}.
func (d *Decision) Object() parsers.Object {
	var by any
	if d.By != "" {
		by = d.By
	}
	sigs := make(parsers.Objects, 0, len(d.DKIM))
	for _, s := range d.DKIM {
		sigs = append(sigs, parsers.Object{{Key: "domain", Value: s.Domain}, {Key: "result", Value: s.Result}, {Key: "selector", Value: s.Selector}})
	}
	return parsers.Object{{Key: "by", Value: by}, {Key: "dkim", Value: sigs}, {Key: "trusted", Value: d.Trusted}}
}
