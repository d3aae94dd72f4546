// Package mailerr is mailgw's error taxonomy, in one tested place: every
// error that reaches an MTA is either temporary (the MTA retries: deliver
// exits 75, SMTP replies 4xx) or permanent (deliver exits non-zero but not
// 75, SMTP replies 5xx), and carries the SMTP reply that says so.
//
// The rules (docs/errors.md):
//   - temporary: spool missing, unwritable or full, config unreadable,
//     journal or bus unavailable, timeouts;
//   - permanent: a mail over the size limit, a client or recipient that is
//     not allowed.
//
// Content problems (unparseable mail, unknown source) are never returned to
// the MTA: the mail was already acknowledged and goes to quarantine.
package mailerr

import (
	"errors"
	"fmt"
)

// Error is an error with a temporariness and the SMTP reply for it.
type Error struct {
	Code     int    // SMTP reply code, e.g. 451
	Enhanced [3]int // enhanced status code, e.g. {4, 3, 0}
	Message  string // short text for the client; details stay in the log
	Err      error  // the cause, for logs
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%d %d.%d.%d %s: %v", e.Code, e.Enhanced[0], e.Enhanced[1], e.Enhanced[2], e.Message, e.Err)
	}
	return fmt.Sprintf("%d %d.%d.%d %s", e.Code, e.Enhanced[0], e.Enhanced[1], e.Enhanced[2], e.Message)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Temporary reports whether the sender should retry (a 4xx reply).
func (e *Error) Temporary() bool { return e.Code >= 400 && e.Code < 500 }

// Constructors for the replies in docs/errors.md.

// SpoolFailed is 451 4.3.0: the mail could not be spooled; retry.
func SpoolFailed(err error) *Error {
	return &Error{Code: 451, Enhanced: [3]int{4, 3, 0}, Message: "Temporary local problem, try again later", Err: err}
}

// SpoolFull is 452 4.3.1: not enough room in the spool; retry.
func SpoolFull(err error) *Error {
	return &Error{Code: 452, Enhanced: [3]int{4, 3, 1}, Message: "Insufficient system storage, try again later", Err: err}
}

// TooBig is 552 5.3.4: the mail is over the size limit.
func TooBig(limit int64) *Error {
	return &Error{Code: 552, Enhanced: [3]int{5, 3, 4}, Message: fmt.Sprintf("Message too big (limit %d bytes)", limit)}
}

// NotAllowed is 550 5.7.1: client network or recipient not allowed.
func NotAllowed(what string) *Error {
	return &Error{Code: 550, Enhanced: [3]int{5, 7, 1}, Message: what + " not allowed"}
}

// ShuttingDown is 421 4.3.2: the service is stopping.
func ShuttingDown() *Error {
	return &Error{Code: 421, Enhanced: [3]int{4, 3, 2}, Message: "Service shutting down, try again later"}
}

// Timeout is 451 4.4.2: the client was too slow.
func Timeout(err error) *Error {
	return &Error{Code: 451, Enhanced: [3]int{4, 4, 2}, Message: "Timeout, try again later", Err: err}
}

// ConfigUnreadable is a temporary error: an operator can fix the config and
// the MTA will retry (deliver exits 75 rather than bouncing mail).
func ConfigUnreadable(err error) *Error {
	return &Error{Code: 451, Enhanced: [3]int{4, 3, 5}, Message: "Configuration problem, try again later", Err: err}
}

// Exit codes of "mailgw deliver" (sysexits.h).
const (
	ExitOK       = 0
	ExitTempFail = 75 // EX_TEMPFAIL: the MTA keeps the mail and retries
)

// ExitCode maps err to deliver's exit code: 0 for nil, else 75. docs/errors.md
// allows deliver no other failure code (those are for usage errors): every
// failure is one an operator can fix — even a mail over the size limit,
// by raising smtp.max_message_bytes — so the MTA keeps the mail queued,
// shows the reason in its queue listing, and its queue lifetime bounds the
// retries. Mail is never bounced by mailgw deliver.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	return ExitTempFail
}

// Reply maps err to the *Error whose reply a client must get: the one
// err wraps, or 451 4.3.0 (SpoolFailed) for an error without one, so that
// no mail is bounced for a local fault; nil for nil.
func Reply(err error) *Error {
	if err == nil {
		return nil
	}
	var me *Error
	if errors.As(err, &me) {
		return me
	}
	return SpoolFailed(err)
}
