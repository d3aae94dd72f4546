package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/spool"
	"github.com/spf13/cobra"
)

const spoolLong = `The operator's view of the spool (mail waiting for serve) and the quarantine
(mail that made no event, each with a reason file).

` + spoolExit

// newSpoolCmd is "mailgw spool list|show|requeue|delete|purge".
func newSpoolCmd(g *globals) *cobra.Command {
	return newGroupCmd("spool", "list, show, re-queue and delete spooled and quarantined mail", spoolLong,
		newSpoolListCmd(g), newSpoolShowCmd(g), newSpoolRequeueCmd(g), newSpoolDeleteCmd(g), newSpoolPurgeCmd(g))
}

// withSpool loads the config and opens the spool for a spool subcommand,
// then runs f with buffered stdout.
func withSpool(g *globals, c *cobra.Command, f func(out *bufio.Writer, sp *spool.Spool) int) error {
	stderr := c.ErrOrStderr()
	cfg, err := config.Load(g.config)
	if err != nil {
		fmt.Fprintf(stderr, "mailgw spool: %v\n", err)
		return exitWith(exitConfig)
	}
	sp, err := openSpool(cfg, false)
	if err != nil {
		fmt.Fprintf(stderr, "mailgw spool: %v\n", err)
		return exitWith(exitTempFail)
	}
	out := bufio.NewWriter(c.OutOrStdout())
	defer out.Flush()
	return exitWith(f(out, sp))
}

func newSpoolListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "list the spooled mail and the quarantined mail with its reasons",
		Long: `List the mail waiting in the spool (new/) and the quarantined mail, each
quarantined one with its time, size and reason.

` + spoolExit,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return withSpool(g, c, func(out *bufio.Writer, sp *spool.Spool) int {
				return spoolList(out, c.ErrOrStderr(), sp)
			})
		},
	}
}

func newSpoolShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "print a quarantined or spooled mail with its reason",
		Long: `Print a quarantined (or still spooled) mail: its reason file, a blank line,
then the mail as received.

` + spoolExit,
		Args: exactArgs(1, "ID"),
		RunE: func(c *cobra.Command, args []string) error {
			return withSpool(g, c, func(out *bufio.Writer, sp *spool.Spool) int {
				return spoolShow(out, c.ErrOrStderr(), sp, args[0])
			})
		},
	}
}

func newSpoolRequeueCmd(g *globals) *cobra.Command {
	var all bool
	c := &cobra.Command{
		Use:   "requeue {ID... | --all}",
		Short: "move quarantined mail back into the spool",
		Long: `Move quarantined mail back into the spool; a running 'mailgw serve'
processes it at once (for example after a parser fix).

` + spoolExit,
		Args: func(c *cobra.Command, args []string) error {
			if all == (len(args) > 0) {
				return usageErrorf("requeue takes IDs or --all")
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			return withSpool(g, c, func(out *bufio.Writer, sp *spool.Spool) int {
				return spoolRequeue(out, c.ErrOrStderr(), sp, all, args)
			})
		},
	}
	c.Flags().BoolVar(&all, "all", false, "requeue every quarantined mail")
	return c
}

// spoolExit is the exit status of every spool subcommand.
const spoolExit = `Exit status: 0 done; 1 an ID was not found or could not be moved; 64 usage
error; 75 the spool is missing or unreadable; 78 bad config.`

func spoolList(out *bufio.Writer, stderr io.Writer, sp *spool.Spool) int {
	pending, err := sp.Pending()
	if err != nil {
		fmt.Fprintf(stderr, "mailgw spool: %v\n", err)
		return exitTempFail
	}
	fmt.Fprintf(out, "spooled (%s): %d\n", filepath.Join(sp.Dir(), "new"), len(pending))
	for _, n := range pending {
		fmt.Fprintf(out, "  %s\n", n)
	}
	q, err := sp.List()
	if err != nil {
		fmt.Fprintf(stderr, "mailgw spool: %v\n", err)
		return exitTempFail
	}
	fmt.Fprintf(out, "quarantined (%s): %d\n", sp.QuarantineDir, len(q))
	for _, e := range q {
		fmt.Fprintf(out, "  %s  %s  %d bytes\n    %s\n", e.Name, e.Time.UTC().Format(time.RFC3339), e.Size, e.Reason)
	}
	return exitOK
}

func spoolShow(out *bufio.Writer, stderr io.Writer, sp *spool.Spool, id string) int {
	reason, mail, err := sp.Show(id)
	if os.IsNotExist(err) {
		// Not quarantined: perhaps still waiting in the spool.
		if raw, err2 := sp.Read(id); err2 == nil {
			fmt.Fprintf(out, "state: spooled, waiting to be processed\n\n")
			out.Write(raw)
			return exitOK
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "mailgw spool: show %s: %v\n", id, err)
		return exitFailure
	}
	fmt.Fprintf(out, "%s\n", reason)
	out.Write(mail)
	return exitOK
}

func spoolRequeue(out *bufio.Writer, stderr io.Writer, sp *spool.Spool, all bool, ids []string) int {
	if all {
		n, err := sp.RequeueAll()
		fmt.Fprintf(out, "requeued %d\n", n)
		if err != nil {
			fmt.Fprintf(stderr, "mailgw spool: requeue: %v\n", err)
			return exitFailure
		}
		return exitOK
	}
	code := exitOK
	for _, id := range ids {
		if err := sp.Requeue(id); err != nil {
			fmt.Fprintf(stderr, "mailgw spool: requeue %s: %v\n", id, err)
			code = exitFailure
			continue
		}
		fmt.Fprintf(out, "requeued %s\n", id)
	}
	return code
}
