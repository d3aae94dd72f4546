package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/journal"
	"github.com/debian/mailgw/internal/backfill"
	"golang.org/x/term"
)

const replayHelp = `usage: mailgw replay [--config FILE] [--publish | --dry-run] [--since DATE]
                    [--until DATE] [--rate N] [--no-progress] [--restart] FILE...

Backfill events from archives: mbox (mboxo or mboxrd), Maildir folders and
debbugs .log files, each plain or gzip/bzip2/xz compressed (detected from
the content). Options go before the files.

Targets:
  (default)     deliver each mail that has a new event into the spool of
                serve (state_dir must exist); serve journals and publishes
  --publish     sign, journal and publish directly on the configured
                endpoint (endpoints[name]); serve must not be bound to it
  --dry-run     classify and build only; print a table of topics and of
                quarantine reasons on stdout; nothing is published or stored

Events already in the journal (same deterministic msg_id) are never
published again. An interrupted replay resumes from its checkpoint
(state_dir/replay/) when run again with the same files; --restart ignores
checkpoints. debbugs .log records of mail debbugs received are skipped
unless --all-records is given (they make no events).

  --since DATE, --until DATE   keep mails whose Date is in [since, until)
                               (2006-01-02 or RFC 3339)
  --rate N                     at most N mails per second
  --no-progress                no progress bar or progress lines
  --restart                    ignore checkpoints (the journal still drops
                               events published before)
  --checkpoint-every N         write the checkpoint every N mails (1000)
  --all-records                also replay debbugs .log incoming mail
  --workers N                  parser goroutines (default: one per CPU)
  --spool-max N                spool mode: wait while serve still has N
                               mails to process (1000; 0: never wait)
  --wait-subscribers N         with --publish, wait up to 10s for N
                               subscribers before publishing

Exit status: 0 when everything was replayed, 65 when damaged archives or
records were skipped (the rest was replayed), 1 when the replay stopped
(journal, spool or bus failure; interrupted), 64 on usage errors, 78 when
the config or signing key is unusable.
`

// cmdReplay runs "mailgw replay".
func cmdReplay(args []string) int {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, replayHelp) }
	cfgPath := fs.String("config", "", "config `FILE`")
	publish := fs.Bool("publish", false, "publish directly")
	dryRun := fs.Bool("dry-run", false, "classify and count only")
	since := fs.String("since", "", "first `DATE`")
	until := fs.String("until", "", "end `DATE` (exclusive)")
	rate := fs.Float64("rate", 0, "mails per second (0: unlimited)")
	noProgress := fs.Bool("no-progress", false, "no progress output")
	restart := fs.Bool("restart", false, "ignore checkpoints")
	allRecords := fs.Bool("all-records", false, "replay every debbugs .log mail record")
	workers := fs.Int("workers", 0, "parser goroutines (0: one per CPU)")
	waitSubs := fs.Int("wait-subscribers", 0, "with --publish, subscribers to wait for")
	cpEvery := fs.Int("checkpoint-every", 1000, "mails between checkpoint writes")
	spoolMax := fs.Int("spool-max", 1000, "spool mode: wait while serve has this many mails pending (0: never)")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() == 0 || (*publish && *dryRun) {
		fmt.Fprint(os.Stderr, replayHelp)
		return exitUsage
	}
	fail := func(code int, err error) int {
		fmt.Fprintf(os.Stderr, "mailgw replay: %v\n", err)
		return code
	}
	o := backfill.Options{Rate: *rate, Restart: *restart, AllRecords: *allRecords, Workers: *workers, CheckpointEvery: *cpEvery, SpoolMax: *spoolMax}
	var err error
	if o.Since, err = parseDate(*since); err != nil {
		return fail(exitUsage, fmt.Errorf("--since: %w", err))
	}
	if o.Until, err = parseDate(*until); err != nil {
		return fail(exitUsage, fmt.Errorf("--until: %w", err))
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return fail(exitConfig, err)
	}
	log := newLogger(cfg)
	slog.SetDefault(log)
	o.Config, o.Logger = cfg, log
	if o.Classifier, err = newClassifier(cfg); err != nil {
		return fail(exitConfig, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	switch {
	case *dryRun:
		o.Mode = backfill.ModeDryRun
	case *publish:
		o.Mode = backfill.ModePublish
		closeFn, code, err := wirePublish(ctx, cfg, &o, *waitSubs)
		if err != nil {
			return fail(code, err)
		}
		defer closeFn()
	default:
		o.Mode = backfill.ModeSpool
		if _, err := os.Stat(cfg.StateDir); err != nil {
			return fail(exitConfig, fmt.Errorf("state_dir %s: %w (start serve first, or use --publish or --dry-run)", cfg.StateDir, err))
		}
		if o.Spool, err = openSpool(cfg, true); err != nil {
			return fail(exitConfig, err)
		}
		if _, err := os.Stat(cfg.Journal); err == nil {
			if o.Journal, err = journal.Open(cfg.Journal); err != nil {
				return fail(exitConfig, err)
			}
			defer o.Journal.Close()
		}
	}
	if o.Mode != backfill.ModeDryRun {
		o.CheckpointDir = filepath.Join(cfg.StateDir, "replay")
	}
	if !*noProgress {
		o.Progress = os.Stderr
		o.Terminal = term.IsTerminal(int(os.Stderr.Fd()))
	}
	s, err := backfill.Run(ctx, o, fs.Args())
	if *noProgress {
		fmt.Fprintln(os.Stderr, s.String())
	}
	if o.Mode == backfill.ModeDryRun {
		fmt.Print(s.Table())
	}
	switch {
	case err != nil:
		return fail(exitFailure, err)
	case s.Errors > 0:
		return exitDataErr
	}
	return exitOK
}

// wirePublish loads the signing key and opens the journal and the ZeroMQ
// publisher for --publish. The returned func closes them.
func wirePublish(ctx context.Context, cfg *config.Config, o *backfill.Options, waitSubs int) (func(), int, error) {
	var err error
	if o.Signer, err = loadSigner(cfg, true); err != nil {
		return nil, exitConfig, err
	}
	if o.Journal, err = journal.Open(cfg.Journal); err != nil {
		return nil, exitConfig, err
	}
	eps := cfg.Endpoints[cfg.Name]
	pub, err := bus.NewZMQPublisher(ctx, eps, cfg.HighWaterMark)
	if err != nil {
		o.Journal.Close()
		return nil, exitConfig, err
	}
	o.Publisher = pub
	if waitSubs > 0 {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := pub.WaitSubscribers(wctx, waitSubs)
		cancel()
		if err != nil {
			o.Logger.Warn("replay: fewer subscribers than asked for; publishing anyway", "want", waitSubs, "have", pub.Subscribers())
		}
	}
	return func() {
		// Run has stopped writing the journal: its closing WAL
		// checkpoint (tens of milliseconds after a large replay)
		// overlaps the drain instead of following it.
		jClosed := make(chan struct{})
		go func() {
			o.Journal.Close()
			close(jClosed)
		}()
		pub.Close() // waits for subscriber queues to drain
		if d := pub.Dropped(); d > 0 {
			o.Logger.Warn("replay: messages dropped for slow subscribers (high_water_mark)", "dropped", d)
		}
		<-jClosed
	}, 0, nil
}

// parseDate reads --since/--until: a date (UTC midnight) or RFC 3339.
func parseDate(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errors.New("want YYYY-MM-DD or RFC 3339")
}
