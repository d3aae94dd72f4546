package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/mailerr"
	"github.com/debian/mailgw/internal/spool"
	"github.com/spf13/cobra"
)

const deliverLong = `Spool one mail from standard input for 'mailgw serve' to publish: the MTA
pipe target (postfix pipe(8), exim pipe transport, procmail, .forward). It
only writes the mail into the spool (tmp/, fsync, rename into new/, fsync);
it never parses, signs or publishes, so it is fast and needs no key. It
never creates the spool: a missing spool is a misconfiguration to notice.

-f SENDER is the envelope sender as the MTA passes it (postfix pipe(8):
-f ${sender}); without -f, $SENDER (set by postfix local(8) and exim for
.forward and pipe deliveries) is used. It is kept with the spooled mail,
in the spool file's name, never in the mail, and proves the mail when a
[trust.SERVICE] senders list names it (docs/trust.md).

Exit status: 0 the mail is durably in the spool (fsynced); 75 try again
later (EX_TEMPFAIL): the spool is missing, full (below spool_min_free_bytes)
or unwritable, the config is unreadable, or the mail is over
smtp.max_message_bytes; the MTA keeps the mail queued (its queue listing
shows this reason) and retries, so fixing the cause delivers it with no
other step; 64 usage error. deliver exits with no other code
(docs/errors.md).`

// newDeliverCmd is "mailgw deliver": one mail from stdin into the spool.
func newDeliverCmd(g *globals) *cobra.Command {
	var sender string
	c := &cobra.Command{
		Use:   "deliver < MAIL",
		Short: "MTA pipe target: spool one mail from stdin (exit 0 spooled, 75 retry later)",
		Long:  deliverLong,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 0 {
				return usageErrorf("takes no arguments (the mail comes on stdin)")
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			if !c.Flags().Changed("sender") {
				sender = os.Getenv("SENDER")
			}
			return exitWith(cmdDeliver(g.config, sender, c.InOrStdin(), c.ErrOrStderr()))
		},
	}
	c.Flags().StringVarP(&sender, "sender", "f", "", "envelope `SENDER` as the MTA passes it (default: $SENDER)")
	return c
}

// cmdDeliver spools the mail on stdin. Exit status: 0 spooled (after
// fsync); 75 for every problem an operator can fix (spool missing, full
// or unwritable, config unreadable, mail over the size limit — other
// codes are only for usage errors, docs/errors.md). The spool is
// never created here.
func cmdDeliver(cfgPath, sender string, stdin io.Reader, stderr io.Writer) int {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return deliverFail(stderr, mailerr.ConfigUnreadable(err))
	}
	sp, err := openSpool(cfg, false)
	if err != nil {
		return deliverFail(stderr, err)
	}
	o := spool.Origin{Sender: strings.Trim(strings.TrimSpace(sender), "<>")}
	if _, err := sp.DeliverFrom(bufio.NewReaderSize(stdin, 64<<10), cfg.SMTP.MaxMessageBytes, o); err != nil {
		return deliverFail(stderr, err)
	}
	return exitOK
}

// deliverFail reports err on stderr (the MTA logs it and puts it in its
// bounce or delay notice) and returns its exit code.
func deliverFail(stderr io.Writer, err error) int {
	code := mailerr.ExitCode(err)
	fmt.Fprintf(stderr, "mailgw deliver: %v\n", err)
	return code
}
