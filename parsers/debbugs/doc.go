// Package debbugs turns the mail that Debian's bug tracking system
// (bugs.debian.org, "debbugs") sends into debbugs.bug.* events: new
// reports, followups, closes ("marked as done", "closed by", "fixed in"),
// control transcripts ("Processed: …") with their actions, acknowledgements,
// forwarded and submitter-changed notices and error replies.
//
// # Claiming
//
// Mail is claimed from its headers first: X-Debian-PR-Message (with X-Loop:
// owner@bugs.debian.org and the other X-Debian-PR-* headers that debbugs
// has set since the late 1990s); its first word picks the event. Older mail
// (the 1995–1997 spool logs) has no X-Debian-PR-Message, so rules on
// debbugs' fixed subject phrases take over ("Bug#N: Acknowledgement (…)",
// "Bug#N: marked as done (…)", "Bug#N acknowledged by developer",
// "Processed: …"); a plain "Bug#N: title" is only trusted with another mark
// of the BTS (X-Debian-PR-Package, X-Loop, a handler Resent-Message-ID).
//
// Claimed with no event, and a reason: copies of mail sent *to* the BTS
// (first header "Received: (at submit) by bugs.debian.org", as in a spool
// log's incoming-recv record or a list copy of a control@ mail) — debbugs
// has not acted on them yet and its own resent copy carries the event; 1995
// autoforward records (X-Debian-Bugs); service replies (X-Debian-PR-Message
// list, doc-text, geti, …) and any type that is not a safe topic word.
//
// # Payloads
//
// Every bug event has bug (int, when known), packages and sources (lists,
// from X-Debian-PR-Package and X-Debian-PR-Source) and title (the subject
// without "Bug#N: ", or the bug title that a notice quotes). Then:
//
//   - report: submitter, severity ("normal" unless a Severity:
//     pseudo-header says otherwise), tags (X-Debian-PR-Keywords and the Tags:
//     pseudo-header), version (Version: pseudo-header, when given), body.
//     debbugs before 2006 also labelled followups "report N"; the header is
//     followed as it stands.
//   - followup: from, tags, body.
//   - close: variant ("closed" for "marked as done", "they-closed" for the
//     notice to the submitter), bugs (the header's bug and, for merged bugs,
//     the one the notice names), closed_by (the Done: pseudo-header of the
//     closing mail, else the notice's "closed by", else the closing mail's
//     From), fixed_version and fixed_source (Source-Version:/Version:/
//     Source: pseudo-headers of the closing mail, "Version: src/ver" giving
//     both, else its "fixed in SRC VER" subject), closing_message_id,
//     closing_subject. The closing mail is
//     the attached message/rfc822 part whose Message-ID the notice names, or
//     the one received at N-done/N-close; pre-MIME notices quote it inline.
//   - control: bugs (ascending), actions [{command, bugs, args, error}]
//     (see Action; placeholders such as -1 replaced by the bugs the
//     replies and the transcript's Message-ID name), errors (strings, each prefixed with its command), error_count
//     (from "Processed (with N errors)"), title (the subject after
//     "Processed: "), to and to_email (parsers.AddressList), and truncated when more than 5000 commands were
//     cut. A command debbugs answered with nothing is a silent failure and
//     counts as an error: this is how the 8 errors of a real "Processed (with
//     8 errors): unarchive" transcript show. Transcripts longer than the
//     64 KiB that parsers.Message.Text keeps are decoded again from the raw
//     mail (up to 4 MiB) so that no command is lost.
//   - ack: variant (ack, ack-info, ack-quiet, ack-info-quiet,
//     ack-maintonly, ack-info-maintonly), to, to_email.
//   - forwarded: forwarded_to. submitter-changed: old_submitter,
//     new_submitter. error: error (unknown-bug, no-bug-number,
//     no-bug-number-submitter, no-package, other) and subject.
//
// The people (submitter, from, closed_by, old_submitter, new_submitter)
// are in parsers.Address's display form, each with a <field>_email
// sibling (parsers.PutAddress). Bodies (body, content) are bounded by
// Options.MaxBody. The mail and mailgw blocks (docs/topics.md) are
// added by the pipeline, not here.
//
// With Options.Compat the parser also emits debmessenger's
// debmessenger.bug.<type> events, whose payload keys are exactly
// debmessenger's: from, source, package, tags, type, nb (a string, "" for
// a transcript), title, content and patches (always empty).
package debbugs
