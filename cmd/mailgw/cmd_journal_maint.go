package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"syscall"
	"time"

	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/journal"
	"github.com/spf13/cobra"
)

// journalMaintExit is the exit status of "journal backup" and "journal
// prune".
const journalMaintExit = `Exit status: 0 done; 1 it failed (the reason on stderr; for backup: DIR
already holds a journal, or writing it failed); 64 usage error; 75 the
journal is missing, busy or unreadable; 78 configuration error.`

// withJournal loads the config and opens the existing journal for a
// journal maintenance command, then runs f. It never creates a journal,
// and as root it refuses a journal owned by another user (serve's
// mailgw user): files SQLite creates beside it would then be root's, and
// serve could no longer write them.
func withJournal(g *globals, c *cobra.Command, name string, f func(cfg *config.Config, j *journal.Journal) int) error {
	stderr := c.ErrOrStderr()
	cfg, err := config.Load(g.config)
	if err != nil {
		fmt.Fprintf(stderr, "mailgw journal %s: %v\n", name, err)
		return exitWith(exitConfig)
	}
	fi, err := os.Stat(cfg.Journal)
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(stderr, "mailgw journal %s: no journal at %s (check state_dir and journal in the config)\n", name, cfg.Journal)
		return exitWith(exitTempFail)
	}
	if err != nil {
		fmt.Fprintf(stderr, "mailgw journal %s: %v\n", name, err)
		return exitWith(exitTempFail)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 && st.Uid != 0 {
		fmt.Fprintf(stderr, "mailgw journal %s: %s belongs to uid %d: run this as that user (runuser -u mailgw -- mailgw journal %s …)\n",
			name, cfg.Journal, st.Uid, name)
		return exitWith(exitFailure)
	}
	j, err := journal.Open(cfg.Journal)
	if err != nil {
		fmt.Fprintf(stderr, "mailgw journal %s: %v\n", name, err)
		return exitWith(exitTempFail)
	}
	code := f(cfg, j)
	if err := j.Close(); err != nil && code == exitOK {
		fmt.Fprintf(stderr, "mailgw journal %s: %v\n", name, err)
		code = exitFailure
	}
	return exitWith(code)
}

func newJournalBackupCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "backup DIR",
		Short: "write a consistent copy of the journal into DIR, also while serve runs",
		Long: `Write a consistent copy of the journal (journal.sqlite and its bodies file)
into DIR, created if needed; a DIR that already holds a journal is refused.
serve, replay and tail go on meanwhile: the database is copied in one read
transaction and the bodies file up to the end that copy names. The copy
answers every query the journal answered when the database was copied. To
restore it, stop serve, put both files in place of the journal's (cp keeps
the pruned part of the bodies file a hole) and start serve again
(docs/operations.md).

` + journalMaintExit,
		Args: exactArgs(1, "DIR"),
		RunE: func(c *cobra.Command, args []string) error {
			return withJournal(g, c, "backup", func(_ *config.Config, j *journal.Journal) int {
				start := time.Now()
				st, err := j.Backup(args[0])
				if err != nil {
					fmt.Fprintf(c.ErrOrStderr(), "mailgw journal backup: %v\n", err)
					return exitFailure
				}
				fmt.Fprintf(c.OutOrStdout(), "backed up %d envelopes (last seq_id %d) into %s (%d bytes of bodies copied, %d pruned) in %s\n",
					st.Rows, st.LastSeq, st.Path, st.CopiedBytes, st.BodiesBytes-st.CopiedBytes, time.Since(start).Round(time.Millisecond))
				return exitOK
			})
		},
	}
}

func newJournalPruneCmd(g *globals) *cobra.Command {
	var retention, dedupRetention config.Duration
	c := &cobra.Command{
		Use:   "prune",
		Short: "prune the journal as retention and dedup_retention say, now",
		Long: `Prune the journal now, as serve does every hour: the bodies of published
envelopes journaled longer ago than retention, and the dedup keys of those
journaled longer ago than dedup_retention (docs/operations.md). The flags
override the config's keys. With retention 0 (the default) nothing is
pruned. Safe while serve runs: it prunes in batches, each a short
transaction, and serve's replay endpoint answers "pruned" for what is gone.

` + journalMaintExit,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return withJournal(g, c, "prune", func(cfg *config.Config, j *journal.Journal) int {
				if c.Flags().Changed("retention") {
					cfg.Retention = retention
				}
				if c.Flags().Changed("dedup-retention") {
					cfg.DedupRetention = dedupRetention
				}
				if err := cfg.Check(); err != nil {
					fmt.Fprintf(c.ErrOrStderr(), "mailgw journal prune: %v\n", err)
					return exitConfig
				}
				return journalPrune(c.Context(), c.OutOrStdout(), c.ErrOrStderr(), cfg, j)
			})
		},
	}
	c.Flags().TextVar(&retention, "retention", config.Duration{}, "prune bodies journaled longer ago than `AGE` (\"90d\"); default: the config's retention")
	c.Flags().TextVar(&dedupRetention, "dedup-retention", config.Duration{}, "prune dedup keys journaled longer ago than `AGE`; default: the config's dedup_retention")
	return c
}

func journalPrune(ctx context.Context, out, stderr io.Writer, cfg *config.Config, j *journal.Journal) int {
	if cfg.Retention.Duration <= 0 {
		fmt.Fprintln(out, "retention is 0 (keep everything): nothing pruned")
		return exitOK
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	st, err := pruneJournal(ctx, j, cfg, time.Now(), log)
	fmt.Fprintf(out, "pruned %d bodies (%d bytes given back) and %d dedup keys; bodies are pruned through seq_id %d, keys through %d\n",
		st.Bodies, st.Reclaimed, st.Keys, st.Mark.Through, st.Mark.KeysThrough)
	if err != nil {
		return exitFailure
	}
	return exitOK
}
