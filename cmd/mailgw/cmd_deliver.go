package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/mailerr"
	"github.com/debian/mailgw/internal/spool"
)

const deliverHelp = `usage: mailgw deliver [--config FILE] [-f SENDER] < MAIL

Spool one mail from standard input for 'mailgw serve' to publish: the MTA
pipe target (postfix pipe(8), exim pipe transport, procmail, .forward).
It only writes the mail into the spool (tmp/, fsync, rename into new/,
fsync); it never parses, signs or publishes, so it is fast and needs no key.

  -f SENDER  the envelope sender, as the MTA passes it (postfix pipe(8):
             -f ${sender}); without -f, $SENDER (set by postfix local(8)
             and exim for .forward and pipe deliveries) is used. It is kept
             with the spooled mail, outside the mail, and proves the mail
             when a [trust.<service>] senders list names it (docs/trust.md).

Exit status:
  0   the mail is durably in the spool (fsynced)
  75  try again later (EX_TEMPFAIL): the spool is missing, full (below
      spool_min_free_bytes) or unwritable, the config is unreadable, or
      the mail is over smtp.max_message_bytes; the MTA keeps the mail
      queued (its queue listing shows this reason) and retries, so fixing
      the cause delivers it with no other step
  64  usage error (bad flags or arguments)
`

// cmdDeliver runs "mailgw deliver": one mail from stdin into the spool.
// Exit status: 0 spooled (after fsync); 75 for every problem an operator
// can fix (spool missing, full or unwritable, config unreadable, mail over
// the size limit — SPEC §2 keeps other codes for usage errors); 64 for
// usage errors. The spool is never created here: a missing spool is
// a misconfiguration to notice, not to paper over.
func cmdDeliver(args []string) int {
	fs := flag.NewFlagSet("deliver", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, deliverHelp) }
	cfgPath := fs.String("config", "", "config `FILE` (default: built-in defaults)")
	sender := fs.String("f", os.Getenv("SENDER"), "envelope `SENDER` from the MTA (default: $SENDER)")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "mailgw deliver: takes no arguments (the mail comes on stdin)")
		return exitUsage
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return deliverFail(mailerr.ConfigUnreadable(err))
	}
	sp, err := openSpool(cfg, false)
	if err != nil {
		return deliverFail(err)
	}
	o := spool.Origin{Sender: strings.Trim(strings.TrimSpace(*sender), "<>")}
	if _, err := sp.DeliverFrom(bufio.NewReaderSize(os.Stdin, 64<<10), cfg.SMTP.MaxMessageBytes, o); err != nil {
		return deliverFail(err)
	}
	return exitOK
}

// deliverFail reports err on stderr (the MTA logs it and puts it in its
// bounce or delay notice) and returns its exit code.
func deliverFail(err error) int {
	code := mailerr.ExitCode(err)
	fmt.Fprintf(os.Stderr, "mailgw deliver: %v\n", err)
	return code
}
