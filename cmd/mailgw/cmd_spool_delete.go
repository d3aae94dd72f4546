package main

import (
	"bufio"
	"fmt"
	"io"
	"time"

	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/spool"
	"github.com/spf13/cobra"
)

func newSpoolDeleteCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID...",
		Short: "delete quarantined mail for good",
		Long: `Delete quarantined mail and its reason file for good (after reading it with
'mailgw spool show ID' and deciding it is not worth a requeue). Only
quarantined mail can be deleted: mail waiting in the spool belongs to the
pipeline, which journals or quarantines it.

` + spoolExit,
		Args: minArgs(1, "ID"),
		RunE: func(c *cobra.Command, args []string) error {
			return withSpool(g, c, func(out *bufio.Writer, sp *spool.Spool) int {
				return spoolDelete(out, c.ErrOrStderr(), sp, args)
			})
		},
	}
}

func spoolDelete(out *bufio.Writer, stderr io.Writer, sp *spool.Spool, ids []string) int {
	code := exitOK
	for _, id := range ids {
		if err := sp.Delete(id); err != nil {
			fmt.Fprintf(stderr, "mailgw spool: delete %s: %v\n", id, err)
			code = exitFailure
			continue
		}
		fmt.Fprintf(out, "deleted %s\n", id)
	}
	return code
}

func newSpoolPurgeCmd(g *globals) *cobra.Command {
	var olderThan config.Duration
	c := &cobra.Command{
		Use:   "purge --older-than AGE",
		Short: "delete the mail quarantined longer ago than AGE",
		Long: `Delete every mail quarantined longer ago than AGE (whole days such as "30d",
or a Go duration such as "36h"), with its reason file, and reason files
left without their mail. Mail waiting in the spool is never touched.

` + spoolExit,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if olderThan.Duration <= 0 {
				return usageErrorf("--older-than AGE is required and must be positive")
			}
			return withSpool(g, c, func(out *bufio.Writer, sp *spool.Spool) int {
				n, size, err := sp.Purge(time.Now().Add(-olderThan.Duration))
				fmt.Fprintf(out, "purged %d quarantined mails (%d bytes) quarantined more than %s ago\n", n, size, olderThan)
				if err != nil {
					fmt.Fprintf(c.ErrOrStderr(), "mailgw spool: purge: %v\n", err)
					return exitFailure
				}
				return exitOK
			})
		},
	}
	c.Flags().TextVar(&olderThan, "older-than", config.Duration{}, "delete mail quarantined longer ago than `AGE` (\"30d\", \"36h\")")
	return c
}
