package main

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/journal"
	"github.com/spf13/cobra"
)

const journalCheckLong = `Check the journal without changing it: SQLite's integrity check over the
whole database, that the bodies file belongs to the database (identity and
size), and every envelope body's CRC-32C. Prints one line per finding and
the seq_id of every damaged body ("damaged seq_id N"), then a summary.
docs/recovery.md says what to do for each kind of damage. It may run while
serve runs (it only reads).

Exit status: 0 the journal is sound; 1 damage was found; 64 usage error;
75 the journal could not be read; 78 configuration error.`

// newJournalCheckCmd is "mailgw journal check".
func newJournalCheckCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "check the journal: SQLite integrity, the bodies file, every body's CRC",
		Long:  journalCheckLong,
		Args:  noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			stderr := c.ErrOrStderr()
			cfg, err := config.Load(g.config)
			if err != nil {
				fmt.Fprintf(stderr, "mailgw journal check: %v\n", err)
				return exitWith(exitConfig)
			}
			r, err := journal.Check(cfg.Journal)
			if err != nil {
				fmt.Fprintf(stderr, "mailgw journal check: %v\n", err)
				return exitWith(exitTempFail)
			}
			out := bufio.NewWriter(c.OutOrStdout())
			defer out.Flush()
			for _, m := range r.Integrity {
				for _, line := range strings.Split(m, "\n") {
					fmt.Fprintf(out, "integrity: %s\n", line)
				}
			}
			if r.Halves != "" {
				fmt.Fprintf(out, "bodies file: %s\n", r.Halves)
			}
			for _, seq := range r.Damaged {
				fmt.Fprintf(out, "damaged seq_id %d\n", seq)
			}
			fmt.Fprintf(out, "%s: %d envelopes, %d damaged bodies, integrity %s\n",
				cfg.Journal, r.Rows, len(r.Damaged), map[bool]string{true: "ok", false: "FAILED"}[len(r.Integrity) == 0])
			if !r.OK() {
				return exitWith(exitFailure)
			}
			return nil
		},
	}
}
