package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/auth"
	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/journal"
	"github.com/debian/mailgw/internal/metrics"
	"github.com/debian/mailgw/internal/pipeline"
	"github.com/debian/mailgw/internal/replayd"
	"github.com/debian/mailgw/internal/smtpd"
	"github.com/debian/mailgw/internal/spool"
)

// shutdownGrace bounds how long SIGTERM waits for SMTP transactions in
// DATA to finish before connections are cut (a second signal cuts at once).
const shutdownGrace = 30 * time.Second

// cmdServe runs "mailgw serve [--config FILE] [--check-config]": the
// daemon (spool pickup, SMTP/LMTP listeners, publisher, metrics).
//
// Exit codes: 0 after a clean stop or a valid --check-config; 64 bad
// flags; 78 configuration error (the exact problem on stderr); 75 when
// the daemon cannot start for an environment reason (state directory,
// port in use); 1 when a second signal forced the exit.
func cmdServe(args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: mailgw serve [--config FILE] [--check-config]")
		fs.PrintDefaults()
	}
	cfgPath := fs.String("config", "", "configuration file (TOML); none means built-in defaults")
	check := fs.Bool("check-config", false, "validate the configuration, keys and directories, then exit (0 ok, 78 not)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "mailgw serve: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mailgw serve: %v\n", err)
		return exitConfig
	}
	if *check {
		if err := checkServeConfig(cfg); err != nil {
			fmt.Fprintf(os.Stderr, "mailgw serve: %v\n", err)
			return exitConfig
		}
		// The effective trust policy, for the operator to read.
		if v, err := auth.New(cfg.Trust, nil); err == nil {
			fmt.Fprint(os.Stderr, v.Describe())
		}
		fmt.Fprintln(os.Stderr, "mailgw serve: configuration OK")
		return exitOK
	}
	log := newLogger(cfg)
	slog.SetDefault(log)

	// First SIGTERM/SIGINT: graceful stop. Second: exit now.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	stopping := make(chan struct{})
	go func() {
		s := <-sigs
		log.Info("stopping: finishing mail in flight (signal again to force)", "signal", s.String())
		close(stopping)
		s = <-sigs
		log.Error("forced exit", "signal", s.String())
		os.Exit(exitFailure)
	}()
	return runServe(cfg, log, stopping)
}

// daemon holds what runServe opened, for the orderly stop.
type daemon struct {
	cfg     *config.Config
	log     *slog.Logger
	m       *metrics.Metrics
	spool   *spool.Spool
	journal *journal.Journal
	pub     *bus.ZMQPublisher
	pipe    *pipeline.Pipeline
	smtp    *smtpd.Server
	replay  *replayd.Server // nil when replay_endpoints has no entry for name
}

// runServe starts every part, waits for stopping (or a part failing), and
// stops them in the order that keeps every acknowledged mail: listeners
// first (in-flight DATA finishes), then the pipeline, publisher, journal.
func runServe(cfg *config.Config, log *slog.Logger, stopping <-chan struct{}) int {
	d := &daemon{cfg: cfg, log: log, m: metrics.New()}
	code, err := d.open()
	if err != nil {
		log.Error("cannot start", "err", err)
		d.close()
		return code
	}
	defer d.close()

	// Bind everything before serving anything, so a port in use fails the
	// start instead of leaving a half-running daemon.
	lns, err := d.listen()
	if err != nil {
		log.Error("cannot start", "err", err)
		return exitTempFail
	}

	pipeCtx, stopPipe := context.WithCancel(context.Background())
	defer stopPipe()
	adminCtx, stopAdmin := context.WithCancel(context.Background())
	defer stopAdmin()
	failed := make(chan error, 4)
	var wg sync.WaitGroup
	run := func(name string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil {
				failed <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}

	// Run publishes what the journal holds unpublished (a crash between
	// journal and publish) before it takes mail from the spool: everything
	// in new/ at start, then each mail as fsnotify reports it.
	run("pipeline", func() error {
		d.m.SetHealthy(true)
		defer d.m.SetHealthy(false)
		return d.pipe.Run(pipeCtx)
	})
	if lns.smtp != nil {
		run("smtp", func() error { return d.smtp.Serve(lns.smtp, false) })
	}
	if lns.lmtp != nil {
		run("lmtp", func() error { return d.smtp.Serve(lns.lmtp, true) })
	}
	if lns.admin != nil {
		run("metrics", func() error { return d.m.Serve(adminCtx, lns.admin, log) })
	}
	// The replay REP endpoint (SPEC §6), bound in open, answers from the
	// journal until the pipeline has stopped publishing.
	replayAddr := ""
	if d.replay != nil {
		replayAddr = d.replay.Addr()
		run("replay", func() error { return d.replay.Serve(context.Background()) })
	}
	log.Info("mailgw serve running", "version", version, "state_dir", cfg.StateDir,
		"bus", d.pub.Addrs(), "replay", replayAddr, "spool", cfg.SpoolDir, "journal", cfg.Journal)

	code = exitOK
	select {
	case <-stopping:
	case err := <-failed:
		log.Error("stopping after a failure", "err", err)
		code = exitSoftware
	}

	// 1. SMTP/LMTP: no new sessions (421), in-flight DATA gets its reply.
	d.m.SetHealthy(false)
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	if err := d.smtp.Shutdown(ctx); err != nil {
		log.Warn("smtp shutdown", "err", err)
	}
	cancel()
	// 2. The pipeline: whatever it has not committed stays in the spool.
	stopPipe()
	// The replay endpoint: in-flight replies finish, clients then reconnect
	// to the next run.
	if d.replay != nil {
		d.replay.Close()
	}
	// 3. The admin listener last, so the stop can be watched.
	stopAdmin()
	wg.Wait()
	log.Info("mailgw serve stopped")
	return code
}

// open creates the state directories and opens the spool, the signing
// key, the parsers, the journal and the publisher. It returns the exit
// code for a failure: 78 for configuration, 75 for the environment.
func (d *daemon) open() (int, error) {
	cfg := d.cfg
	if err := spool.Create(cfg.SpoolDir); err != nil {
		return exitTempFail, err
	}
	for _, dir := range []string{cfg.QuarantineDir, filepath.Dir(cfg.Journal)} {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return exitTempFail, err
		}
	}
	sp, err := spool.Open(cfg.SpoolDir, cfg.SpoolMinFreeBytes)
	if err != nil {
		return exitTempFail, err
	}
	sp.QuarantineDir = cfg.QuarantineDir
	d.spool = sp
	signer, err := loadSigner(cfg, true)
	if err != nil {
		return exitConfig, err
	}
	cls, err := newClassifier(cfg)
	if err != nil {
		return exitConfig, err
	}
	verifier, err := newVerifier(cfg)
	if err != nil {
		return exitConfig, err
	}
	if d.journal, err = journal.Open(cfg.Journal); err != nil {
		return exitTempFail, err
	}
	if d.pub, err = bus.NewZMQPublisher(context.Background(), cfg.Endpoints[cfg.Name], cfg.HighWaterMark); err != nil {
		return exitTempFail, err
	}
	if ep := cfg.ReplayEndpoints[cfg.Name]; ep != "" {
		if d.replay, err = replayd.NewServer(d.journal, ep, cfg.ReplayMaxReply, d.log.With("component", "replay")); err != nil {
			return exitTempFail, err
		}
	}
	d.installProbes()
	tracker := newPickupTracker(d.m)
	d.pipe = pipeline.New(pipeline.Options{
		Config:     cfg,
		Classifier: cls,
		Signer:     signer,
		Journal:    d.journal,
		Publisher:  countingPublisher{Publisher: d.pub, m: d.m},
		Spool:      sp,
		Logger:     slog.New(tracker.handler(d.log.Handler())),
		Verifier:   verifier,
	})
	d.smtp = smtpd.New(cfg.SMTP, tracker.spooler(sp), d.m, d.log.With("component", "smtp"))
	return exitOK, nil
}

// listeners are the sockets serve binds besides the bus.
type listeners struct{ smtp, lmtp, admin net.Listener }

func (d *daemon) listen() (*listeners, error) {
	var lns listeners
	for _, l := range []struct {
		addr string
		dst  *net.Listener
	}{{d.cfg.SMTP.Listen, &lns.smtp}, {d.cfg.SMTP.LMTPListen, &lns.lmtp}, {d.cfg.Metrics.Listen, &lns.admin}} {
		if l.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			for _, c := range []net.Listener{lns.smtp, lns.lmtp, lns.admin} {
				if c != nil {
					c.Close()
				}
			}
			return nil, err
		}
		*l.dst = ln
	}
	return &lns, nil
}

// close releases what open opened, in reverse order.
func (d *daemon) close() {
	if d.replay != nil {
		d.replay.Close()
	}
	if d.pub != nil {
		d.pub.Close() // waits up to its linger for subscribers' queues
	}
	if d.journal != nil {
		d.journal.Close()
	}
}
