package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/auth"
	"github.com/debian/mailgw/internal/backfill"
	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/control"
	"github.com/debian/mailgw/internal/engine"
	"github.com/debian/mailgw/internal/journal"
	"github.com/debian/mailgw/internal/metrics"
	"github.com/debian/mailgw/internal/pidlock"
	"github.com/debian/mailgw/internal/pipeline"
	"github.com/debian/mailgw/internal/replayd"
	"github.com/debian/mailgw/internal/sdnotify"
	"github.com/debian/mailgw/internal/smtpd"
	"github.com/debian/mailgw/internal/spool"
	"github.com/debian/mailgw/internal/web"
	"github.com/debian/mailgw/parsers"
	"github.com/spf13/cobra"
)

// shutdownGrace bounds how long SIGTERM waits for SMTP transactions in
// DATA to finish before connections are cut (a second signal cuts at once).
const shutdownGrace = 30 * time.Second

const serveLong = `The daemon: SMTP and LMTP listeners, spool pickup (inotify, and a scan at
start), classification, signing, journal, ZeroMQ publisher, replay endpoint
(docs/replay.md), the control socket state_dir/control.sock, through which
mailgw replay hands serve a backfill (docs/operations.md), the admin HTTP
listener (/metrics, /healthz;
docs/monitoring.md) and, when [web] listen is set, the web listener (live
view and history API; docs/web.md). With no configuration it runs on
built-in defaults and generates a development signing key with a loud
warning.

--check-config checks what serve would trip on and exits: the configuration
values, the keys and keyrings, the directories, every listen address and
endpoint (each is bound and released at once) and the journal (read-only
integrity check); it changes nothing and names each problem on its own line.

SIGTERM or SIGINT stops gracefully: new SMTP sessions get 421, mail in DATA
finishes, the pipeline finishes the mail in hand; a second signal exits at
once.

Exit status: 0 after a clean stop or a valid configuration; 1 when a second
signal forced the exit; 64 usage error; 70 a part failed while running; 75
the daemon cannot start for an environment reason (state directory unusable,
port in use; --check-config: when every problem is an address in use); 78
configuration error (the exact problem on stderr), another serve running on
the same state_dir (its pid is named), a signing key or passphrase file open
to group or others or in a directory others may write, or a journal whose two
files do not belong together (docs/recovery.md).`

// newServeCmd is "mailgw serve [--check-config]": the daemon.
func newServeCmd(g *globals) *cobra.Command {
	var check bool
	c := &cobra.Command{
		Use:   "serve",
		Short: "the daemon: SMTP/LMTP listener, spool pickup, publisher, replay endpoint, metrics",
		Long:  serveLong,
		Args:  noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return exitWith(cmdServe(g.config, check, c.ErrOrStderr()))
		},
	}
	c.Flags().BoolVar(&check, "check-config", false, "check the configuration, keys, directories, listen addresses and journal, then exit (0 ok, 75 only temporary problems, 78 otherwise)")
	return c
}

// cmdServe runs serve with the config at cfgPath.
func cmdServe(cfgPath string, check bool, stderr io.Writer) int {
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "mailgw serve: %v\n", err)
		return exitConfig
	}
	if check {
		if errs := checkServeConfig(cfg); len(errs) > 0 {
			for _, err := range errs {
				fmt.Fprintf(stderr, "mailgw serve: %v\n", err)
			}
			return checkExitCode(errs)
		}
		// The effective trust policy, for the operator to read.
		if v, err := auth.New(cfg.Trust, nil); err == nil {
			fmt.Fprint(stderr, v.Describe())
		}
		fmt.Fprintln(stderr, "mailgw serve: configuration OK")
		return exitOK
	}
	log := newLogger(cfg)
	slog.SetDefault(log)

	// SIGHUP: reload (cmd_serve_reload.go). Registered before anything
	// starts: its default action would end the daemon.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
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
	return runServe(cfg, log, stopping, hup, cfgPath)
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
	// eng journals and publishes for the pipeline (and the replays serve
	// runs); stopEng ends its publishing context (publishGrace later).
	eng     *engine.Engine
	stopEng context.CancelFunc
	smtp    *smtpd.Server
	replay  *replayd.Server // nil when replay_endpoints has no entry for name
	lock    *pidlock.Lock   // on <state_dir>/serve.pid
	amqp    *amqpOutlet     // nil when [amqp] is off
	web     *web.Server     // nil when [web] listen is ""
	// ctl is the control socket (replay's backfills, internal/control);
	// signer, cls and ver are what its jobs prepare and sign with
	// (cls and ver swapped by a reload, as the pipeline's).
	ctl    *control.Server
	signer bus.Signer
	cls    atomic.Pointer[parsers.Classifier]
	ver    atomic.Pointer[auth.Verifier]
	// applied is what the last load or reload applied (cmd_serve_reload.go).
	applied reloadState
	prune   *pruner
}

// publishGrace bounds how long serve keeps publishing what is journaled
// once it is stopping; what is left is published at the next start.
const publishGrace = 5 * time.Second

// lockFile is the file in state_dir that serve locks and writes its pid
// into.
const lockFile = "serve.pid"

// runServe starts every part, waits for stopping (or a part failing), and
// stops them in the order that keeps every acknowledged mail: listeners
// first (in-flight DATA finishes), then the pipeline, publisher, AMQP
// outlet, journal.
//
// A signal on hup reloads the config file at cfgPath; systemd hears
// READY=1 once every listener is bound and the journal is open, and
// STOPPING=1 when the drain starts (internal/sdnotify).
func runServe(cfg *config.Config, log *slog.Logger, stopping <-chan struct{}, hup <-chan os.Signal, cfgPath string) int {
	d := &daemon{cfg: cfg, log: log, m: metrics.New(), prune: newPruner(cfg)}
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
	if lns.web != nil {
		run("web", func() error { return d.web.Serve(adminCtx, lns.web) })
	}
	run("prune", func() error { d.prune.loop(adminCtx, d.journal, log.With("component", "journal")); return nil })
	// The replay REP endpoint (docs/replay.md), bound in open, answers from the
	// journal until the pipeline has stopped publishing.
	replayAddr := ""
	if d.replay != nil {
		replayAddr = d.replay.Addr()
		run("replay", func() error { return d.replay.Serve(context.Background()) })
	}
	// The control socket, bound in open: backfills handed over by
	// mailgw replay run on the engine beside live mail.
	ctlCtx, stopCtl := context.WithCancel(context.Background())
	defer stopCtl()
	if d.ctl != nil {
		run("control", func() error { return d.ctl.Serve(ctlCtx) })
	}
	log.Info("mailgw serve running", "version", shortVersion(), "state_dir", cfg.StateDir,
		"bus", d.pub.Addrs(), "replay", replayAddr, "spool", cfg.SpoolDir, "journal", cfg.Journal)

	d.applied = reloadState{cfg: cfg, files: d.digests(cfg)}
	if _, err := sdnotify.Notify(sdnotify.Ready, sdnotify.Status(statusLine(d))); err != nil {
		log.Warn("cannot tell systemd we are ready", "err", err)
	}

	code = exitOK
wait:
	for {
		select {
		case <-hup:
			d.reload(cfgPath)
		case <-stopping:
			break wait
		case err := <-failed:
			log.Error("stopping after a failure", "err", err)
			code = exitSoftware
			break wait
		}
	}
	sdnotify.Notify(sdnotify.Stopping, sdnotify.Status("stopping: finishing mail in flight"))

	// 1. SMTP/LMTP: no new sessions (421), in-flight DATA gets its reply.
	d.m.SetHealthy(false)
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	if err := d.smtp.Shutdown(ctx); err != nil {
		log.Warn("smtp shutdown", "err", err)
	}
	cancel()
	// 2. Backfills: cancelled, what they journaled is published with the
	// rest; the client's next run resumes from its checkpoint.
	stopCtl()
	if d.ctl != nil {
		d.ctl.Close()
	}
	// The pipeline: whatever it has not committed stays in the spool;
	// what the engine journaled is published for up to publishGrace.
	stopPipe()
	d.stopEng()
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
	// One serve per state directory: two would split publishing between
	// them and race on the spool.
	if err := os.MkdirAll(cfg.StateDir, 0o750); err != nil {
		return exitTempFail, err
	}
	lock, err := pidlock.Acquire(filepath.Join(cfg.StateDir, lockFile))
	if err != nil {
		var he *pidlock.HeldError
		if errors.As(err, &he) {
			return exitConfig, fmt.Errorf("mailgw serve (pid %d) is already running on state_dir %s; stop it first, or give this one its own state_dir", he.PID, cfg.StateDir)
		}
		return exitTempFail, err
	}
	d.lock = lock
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
	sp.MaxMessageBytes = cfg.SMTP.MaxMessageBytes
	d.spool = sp
	if cfg.SignMessages {
		if err := checkSecrets(cfg); err != nil {
			return exitConfig, err
		}
	}
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
		var me *journal.MismatchError
		if errors.As(err, &me) {
			return exitConfig, err // an operator must decide: docs/recovery.md
		}
		return exitTempFail, err
	}
	d.journal.OnDamage = func(seq int64, err error) {
		d.log.Error("journal: damaged body left out of a reply (run mailgw journal check; docs/recovery.md)", "seq_id", seq, "err", err)
	}
	if d.pub, err = bus.NewZMQPublisher(context.Background(), cfg.Endpoints[cfg.Name], cfg.HighWaterMark); err != nil {
		return exitTempFail, err
	}
	d.pub.MaxQueueBytes = cfg.SubscriberQueueBytes
	d.pub.MaxSubscribers = cfg.MaxSubscribers
	d.pub.StallTimeout, d.pub.MaxWait = cfg.SubscriberStallTimeout.Duration, cfg.SubscriberMaxWait.Duration
	// The AMQP outlet reads the journal on its own: a broker that is
	// down never holds up the pipeline or the bus.
	if d.amqp, err = newAMQP(cfg, d.journal, d.log, d.m); err != nil {
		return exitConfig, err
	}
	if d.amqp == nil {
		if err := forgetAMQP(d.journal, d.log); err != nil {
			return exitTempFail, err
		}
	} else {
		d.amqp.start()
	}
	if ep := cfg.ReplayEndpoints[cfg.Name]; ep != "" {
		if d.replay, err = replayd.NewServer(d.journal, ep, cfg.ReplayMaxReply, d.log.With("component", "replay")); err != nil {
			return exitTempFail, err
		}
		d.replay.IdleTimeout = cfg.ReplayIdleTimeout.Duration
		d.replay.MaxClients = cfg.ReplayMaxClients
		d.replay.MaxPerAddress = cfg.ReplayMaxClientsPerAddress
	}
	d.installProbes()
	d.m.SetMaxSpoolAge(cfg.Metrics.MaxSpoolAge.Duration)
	var pub bus.Publisher = countingPublisher{Publisher: d.pub, m: d.m}
	if d.web = d.newWeb(); d.web != nil {
		pub = hubPublisher{Publisher: pub, hub: d.web.Hub()}
	}
	var engCtx context.Context
	engCtx, d.stopEng = context.WithCancel(context.Background())
	gate := &control.LagGate{Lag: d.pub.Lag, Behind: d.pub.Behind, Logger: d.log.With("component", "control")}
	d.eng = engine.Start(engCtx, engine.Options{Journal: d.journal, Publisher: pub, Logger: d.log, Health: d.m, PublishGrace: publishGrace, Hold: gate.Hold, BackfillTxTime: backfillTxTime, QuietTxTime: quietTxTime})
	d.pipe = pipeline.New(pipeline.Options{
		Engine:     d.eng,
		Config:     cfg,
		Classifier: cls,
		Signer:     signer,
		Journal:    d.journal,
		Publisher:  pub,
		Spool:      sp,
		Logger:     d.log,
		OnMail:     countMail(d.m),
		Health:     d.m,
		Verifier:   verifier,
	})
	d.smtp = smtpd.New(cfg.SMTP, sp, d.m, d.log.With("component", "smtp"))
	d.signer = signer
	d.cls.Store(cls)
	d.ver.Store(verifier)
	d.ctl = &control.Server{
		Handler: &control.Backfiller{Options: d.backfillOptions, Hooks: d.backfillHooks(), Backlog: d.pub.Backlog},
		Logger:  d.log.With("component", "control"),
		MaxMail: cfg.SMTP.MaxMessageBytes,
	}
	if err := d.ctl.Listen(control.Path(cfg.StateDir)); err != nil {
		// Backfills then go through the spool (replay's fallback): no
		// reason to refuse live mail.
		d.log.Warn("no control socket: mailgw replay will deliver into the spool instead", "err", err)
		d.ctl = nil
	} else {
		ctl := d.ctl
		d.m.SetControlProbe(func() (int, int64, int64) {
			started, refused := ctl.Jobs()
			return ctl.Running(), started, refused
		})
	}
	return exitOK, nil
}

// backfillTxTime bounds a backfill transaction in serve while live mail
// flows (engine.Options.BackfillTxTime), quietTxTime while none came for
// a while (engine.Options.QuietTxTime): live mail waits behind at most
// about that much backfill in the journal. 25 ms instead of full
// 1,024-envelope transactions (with control.LagGate's QuietLag at 40 ms
// instead of 100): the first live mail after a quiet spell waited a
// median 82 ms instead of 173 ms, the backfill's rate -2.3 %, inside the
// runs' spread (docs/benchmarks.md, "The first live mail after a quiet
// spell").
const (
	backfillTxTime = 5 * time.Millisecond
	quietTxTime    = 25 * time.Millisecond
)

// backfillOptions are the options of a backfill serve runs for mailgw
// replay (control.Backfiller): serve's engine, signer and its classifier
// and trust policy as they are now.
func (d *daemon) backfillOptions() backfill.Options {
	return backfill.Options{
		Config:     d.cfg,
		Classifier: d.cls.Load(),
		Verifier:   d.ver.Load(),
		Signer:     d.signer,
		Journal:    d.journal,
		Engine:     d.eng,
		Logger:     d.log.With("component", "control"),
	}
}

// listeners are the sockets serve binds besides the bus.
type listeners struct{ smtp, lmtp, admin, web net.Listener }

func (d *daemon) listen() (*listeners, error) {
	var lns listeners
	for _, l := range []struct {
		addr string
		dst  *net.Listener
	}{{d.cfg.SMTP.Listen, &lns.smtp}, {d.cfg.SMTP.LMTPListen, &lns.lmtp}, {d.cfg.Metrics.Listen, &lns.admin}, {d.cfg.Web.Listen, &lns.web}} {
		if l.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			for _, c := range []net.Listener{lns.smtp, lns.lmtp, lns.admin, lns.web} {
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
	if d.ctl != nil {
		d.ctl.Close() // removes the socket
	}
	if d.eng != nil {
		d.stopEng()
		d.eng.Close() // journals and publishes what is queued
	}
	if d.replay != nil {
		d.replay.Close()
	}
	if d.pub != nil {
		d.pub.Close() // waits up to its linger for subscribers' queues
	}
	d.amqp.stop() // briefly waits for the confirms of what it sent
	if d.journal != nil {
		d.journal.Close()
	}
	d.lock.Release()
}
