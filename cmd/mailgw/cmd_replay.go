package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/backfill"
	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/control"
	"github.com/debian/mailgw/internal/journal"
	"github.com/debian/mailgw/internal/pipeline"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

const replayLong = `Backfill events from archives: mbox (mboxo or mboxrd), Maildir folders and
debbugs .log files, each plain or gzip/bzip2/xz compressed (detected from
the content).

Targets: by default, when serve runs on the configured state_dir, replay
hands it the mails over its control socket (state_dir/control.sock):
serve parses, signs, journals and publishes them beside live mail, live
mail first; replay reads the archives, paces (--rate) and keeps the
checkpoints, and Ctrl-C stops both cleanly. --control insists on that
path (an error when serve does not answer). Without a running serve (or
with --spool), each mail that has a new event is delivered into the spool
of serve (state_dir must exist), and serve journals and publishes it when
it runs. --publish signs, journals and publishes directly on the configured endpoint
(endpoints[name]); serve must not be bound to it. --dry-run classifies and
builds only, and prints a table of topics and of quarantine reasons on
stdout; nothing is published or stored.

Events already in the journal (same deterministic msg_id) are never
published again. An interrupted replay resumes from its checkpoint
(state_dir/replay/) when run again with the same files; --restart ignores
checkpoints. debbugs .log records of mail debbugs received are skipped
unless --all-records is given (they make no events). Without a terminal,
progress is a plain line every few seconds. Replayed events carry
msg.mailgw.replayed = true. See docs/replay.md.

Replayed mail is judged by the [trust] policy like live mail (its DKIM
keys may be long gone); --trust-archive vouches for the archives instead:
every event gets msg.mail.auth {"trusted": true, "by": "archive"}
(docs/trust.md). A proven event that names a happening has a msg_id of
its own (docs/dedup.md): replayed with --trust-archive after a replay
without it, an archive's uploads and bug mails are published once more,
trusted; the other way round, nothing is. With --publish, a DKIM key lookup that fails for a while
(DNS down) stops the replay at that mail (exit 75); the same command
resumes there.

Exit status: 0 when everything was replayed; 65 when damaged archives or
records were skipped (the rest was replayed); 1 when the replay stopped
(journal, spool or bus failure; interrupted); 75 when it stopped at a mail
whose DKIM key lookup failed temporarily, or serve's control socket
refused the job (another backfill running, no serve with --control, a
socket this user may not open); 64 usage error; 78 the config or
signing key is unusable.`

// replayOptions are replay's flags.
type replayOptions struct {
	publish, dryRun, noProgress, restart, allRecords bool
	trustArchive, spool, control                     bool
	since, until                                     string
	rate                                             float64
	workers, waitSubs, cpEvery, spoolMax             int
}

// newReplayCmd is "mailgw replay FILE...": backfill from archives.
func newReplayCmd(g *globals) *cobra.Command {
	var o replayOptions
	c := &cobra.Command{
		Use:   "replay FILE...",
		Short: "backfill events from mbox, Maildir and debbugs .log archives",
		Long:  replayLong,
		Args:  minArgs(1, "FILE (mbox, Maildir or debbugs .log)"),
		RunE: func(c *cobra.Command, args []string) error {
			return exitWith(cmdReplay(g.config, o, args, c.OutOrStdout(), c.ErrOrStderr()))
		},
	}
	f := c.Flags()
	f.BoolVar(&o.publish, "publish", false, "sign, journal and publish directly on endpoints[name] (serve must not be bound to it)")
	f.BoolVar(&o.dryRun, "dry-run", false, "classify and build only; print a table of topics and quarantine reasons; store nothing")
	f.StringVar(&o.since, "since", "", "keep mails whose Date is at or after `DATE` (2006-01-02 or RFC 3339)")
	f.StringVar(&o.until, "until", "", "keep mails whose Date is before `DATE` (2006-01-02 or RFC 3339)")
	f.Float64Var(&o.rate, "rate", 0, "at most `N` mails per second (0: unlimited)")
	f.BoolVar(&o.noProgress, "no-progress", false, "no progress bar or progress lines")
	f.BoolVar(&o.restart, "restart", false, "ignore checkpoints (the journal still drops events published before)")
	f.BoolVar(&o.allRecords, "all-records", false, "also replay the incoming-mail records of debbugs .log files")
	f.IntVar(&o.workers, "workers", 0, "parser goroutines (0: one per CPU)")
	f.IntVar(&o.waitSubs, "wait-subscribers", 0, "with --publish, wait up to 10s for `N` subscribers before publishing")
	f.IntVar(&o.cpEvery, "checkpoint-every", 1000, "write the checkpoint every `N` mails")
	f.IntVar(&o.spoolMax, "spool-max", 1000, "spool mode: wait while serve still has `N` mails to process (0: never wait)")
	f.BoolVar(&o.trustArchive, "trust-archive", false, "vouch for the archives: their events are trusted (msg.mail.auth.by = archive)")
	f.BoolVar(&o.spool, "spool", false, "deliver into serve's spool, one file per mail with a new event, even when serve's control socket answers")
	f.BoolVar(&o.control, "control", false, "hand the mails to the running serve over its control socket; an error when no serve answers")
	c.MarkFlagsMutuallyExclusive("publish", "dry-run", "spool", "control")
	return c
}

// cmdReplay replays the archives in files.
func cmdReplay(cfgPath string, ro replayOptions, files []string, stdout, stderr io.Writer) int {
	fail := func(code int, err error) int {
		fmt.Fprintf(stderr, "mailgw replay: %v\n", err)
		return code
	}
	o := backfill.Options{Rate: ro.rate, Restart: ro.restart, AllRecords: ro.allRecords, Workers: ro.workers, CheckpointEvery: ro.cpEvery, SpoolMax: ro.spoolMax, TrustArchive: ro.trustArchive}
	var err error
	if o.Since, err = parseDate(ro.since); err != nil {
		return fail(exitUsage, fmt.Errorf("--since: %w", err))
	}
	if o.Until, err = parseDate(ro.until); err != nil {
		return fail(exitUsage, fmt.Errorf("--until: %w", err))
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return fail(exitConfig, err)
	}
	log := newLogger(cfg)
	slog.SetDefault(log)
	o.Config, o.Logger = cfg, log
	if o.Classifier, err = newClassifier(cfg); err != nil {
		return fail(exitConfig, err)
	}
	if ro.dryRun || ro.publish { // into the spool, serve judges the mail
		if o.Verifier, err = newVerifier(cfg); err != nil {
			return fail(exitConfig, err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	switch {
	case ro.dryRun:
		o.Mode = backfill.ModeDryRun
	case ro.publish:
		o.Mode = backfill.ModePublish
		closeFn, code, err := wirePublish(ctx, cfg, &o, ro.waitSubs)
		if err != nil {
			return fail(code, err)
		}
		defer closeFn()
	default:
		if !ro.spool {
			rc, code, err := dialServe(cfg, ro)
			if err != nil {
				return fail(code, err)
			}
			if rc != nil {
				defer rc.Close()
				return runRemote(ctx, cfg, o, ro, rc, files, stderr)
			}
			if ro.control {
				return fail(exitTempFail, fmt.Errorf("no serve answers on %s (start serve, or drop --control)", control.Path(cfg.StateDir)))
			}
		}
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
	if !ro.noProgress {
		o.Progress = os.Stderr
		o.Terminal = term.IsTerminal(int(os.Stderr.Fd()))
	}
	s, err := backfill.Run(ctx, o, files)
	if ro.noProgress {
		fmt.Fprintln(stderr, s.String())
	}
	if o.Mode == backfill.ModeDryRun {
		fmt.Fprint(stdout, s.Table())
	}
	return replayExit(s, err, fail)
}

// replayExit is replay's exit code for its summary and error.
func replayExit(s backfill.Summary, err error, fail func(int, error) int) int {
	switch {
	case errors.Is(err, pipeline.ErrHeld):
		return fail(exitTempFail, err)
	case err != nil:
		return fail(exitFailure, err)
	case s.Errors > 0:
		return exitDataErr
	}
	return exitOK
}

// dialServe connects to serve's control socket on cfg's state_dir and
// starts the job. It returns nil (and no error) when no serve answers.
func dialServe(cfg *config.Config, ro replayOptions) (*control.Client, int, error) {
	path := control.Path(cfg.StateDir)
	c, err := control.Dial(path, 2*time.Second)
	if errors.Is(err, control.ErrNoServer) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, exitTempFail, fmt.Errorf("%w (the socket is for serve's user and group; or pass --spool or --publish)", err)
	}
	job := control.Job{TrustArchive: ro.trustArchive, Client: fmt.Sprintf("mailgw replay (pid %d)", os.Getpid())}
	if _, err := c.Start(job, nil, 10*time.Second); err != nil {
		c.Close()
		return nil, exitTempFail, err
	}
	return c, 0, nil
}

// runRemote replays files into serve through rc (backfill.RunRemote).
func runRemote(ctx context.Context, cfg *config.Config, o backfill.Options, ro replayOptions, rc *control.Client, files []string, stderr io.Writer) int {
	fail := func(code int, err error) int {
		fmt.Fprintf(stderr, "mailgw replay: %v\n", err)
		return code
	}
	o.CheckpointDir = filepath.Join(cfg.StateDir, "replay")
	o.MaxMail = rc.MaxMail()
	if !ro.noProgress {
		o.Progress = os.Stderr
		o.Terminal = term.IsTerminal(int(os.Stderr.Fd()))
	}
	o.Logger.Info("replay: handing the mails to the running serve", "socket", control.Path(cfg.StateDir))
	s, err := backfill.RunRemote(ctx, o, files, rc)
	if ro.noProgress {
		fmt.Fprintln(stderr, s.String())
	}
	return replayExit(s, err, fail)
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
	// [amqp] on: the events go to the broker too, from the journal, as
	// serve's outlet would send them.
	amqpOut, err := newAMQP(cfg, o.Journal, o.Logger, nil)
	if err != nil {
		pub.Close()
		o.Journal.Close()
		return nil, exitConfig, err
	}
	if amqpOut != nil {
		amqpOut.start()
	}
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
		// checkpoint (tens of milliseconds after a large replay), and
		// the AMQP outlet's last confirms before it, overlap the drain
		// instead of following it.
		jClosed := make(chan struct{})
		go func() {
			if amqpOut != nil {
				amqpOut.drain()
				amqpOut.stop()
			}
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
