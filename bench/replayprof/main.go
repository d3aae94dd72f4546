// Command replayprof is "mailgw replay --publish" with a CPU profile, for
// bench/run.sh --profile: it wires the same pieces the same way as
// cmd/mailgw (config, the pts/dak/debbugs classifier, the trust policy, the
// signing key, the journal, the ZeroMQ publisher and, when [amqp] is on,
// the AMQP outlet), waits for the subscribers, replays the archives (with
// [amqp], until the broker confirmed every event) and writes the CPU
// profile of the whole run:
//
//	replayprof -config mailgw.toml -cpuprofile cpu.prof [-wait-subscribers 1] [-batch N] FILE...
//
// The profile is read with "go tool pprof -top replayprof cpu.prof".
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime/pprof"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/amqpout"
	"github.com/debian/mailgw/internal/auth"
	"github.com/debian/mailgw/internal/backfill"
	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/journal"
	"github.com/debian/mailgw/parsers"
	"github.com/debian/mailgw/parsers/dak"
	"github.com/debian/mailgw/parsers/debbugs"
	"github.com/debian/mailgw/parsers/pts"
)

func main() {
	cfgPath := flag.String("config", "", "mailgw config `FILE`")
	prof := flag.String("cpuprofile", "cpu.prof", "CPU profile output `FILE`")
	waitSubs := flag.Int("wait-subscribers", 1, "subscribers to wait for (up to 10s)")
	batch := flag.Int("batch", 0, "mails per journal transaction (0: replay's default)")
	memProf := flag.String("memprofile", "", "also write an allocation profile to `FILE`")
	flag.Parse()
	err := run(*cfgPath, *prof, *waitSubs, *batch, flag.Args())
	if err == nil && *memProf != "" {
		err = writeHeapProfile(*memProf)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "replayprof:", err)
		os.Exit(1)
	}
}

func run(cfgPath, prof string, waitSubs, batch int, files []string) error {
	if len(files) == 0 {
		return fmt.Errorf("no archive given")
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx := context.Background()
	o := backfill.Options{Mode: backfill.ModePublish, Config: cfg, Logger: log, Restart: true, BatchSize: batch}
	o.Classifier = classifier(cfg)
	v, err := auth.New(cfg.Trust, nil) // the [trust] policy, DKIM checked as serve checks it
	if err != nil {
		return err
	}
	o.Verifier = v
	if o.Signer, err = bus.LoadSigner(cfg.GPGSigningKey, cfg.GPGPassphraseFile); err != nil {
		return err
	}
	if o.Journal, err = journal.Open(cfg.Journal); err != nil {
		return err
	}
	defer o.Journal.Close()
	pub, err := bus.NewZMQPublisher(ctx, cfg.Endpoints[cfg.Name], cfg.HighWaterMark)
	if err != nil {
		return err
	}
	o.Publisher = pub
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err = pub.WaitSubscribers(wctx, waitSubs)
	cancel()
	if err != nil {
		return fmt.Errorf("waiting for %d subscribers: %w", waitSubs, err)
	}

	f, err := os.Create(prof)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	var outlet *amqpout.Outlet
	octx, stopOutlet := context.WithCancel(ctx)
	outletDone := make(chan struct{})
	if cfg.AMQP.Enabled {
		if outlet, err = amqpout.New(amqpout.Options{Config: cfg.AMQP, Journal: o.Journal, Logger: log}); err != nil {
			stopOutlet()
			return err
		}
		go func() { outlet.Run(octx); close(outletDone) }()
	} else {
		close(outletDone)
	}
	s, err := backfill.Run(ctx, o, files)
	pub.Close() // drains the subscriber queues, as mailgw replay does
	if outlet != nil {
		// As replay --publish: until the broker confirmed every event.
		last, lerr := o.Journal.LastSeq()
		if lerr == nil {
			wctx, wcancel := context.WithTimeout(ctx, 5*time.Minute)
			lerr = outlet.Wait(wctx, last)
			wcancel()
		}
		if lerr != nil && err == nil {
			err = lerr
		}
	}
	stopOutlet()
	<-outletDone
	pprof.StopCPUProfile()
	fmt.Fprintln(os.Stderr, s.String())
	return err
}

// writeHeapProfile writes the allocation profile (alloc_space and
// alloc_objects cover the whole run) to path.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// classifier is cmd/mailgw's newClassifier without upload keyrings.
func classifier(cfg *config.Config) *parsers.Classifier {
	d := dak.New(dak.Options{Compat: cfg.CompatDebmessenger, MaxBody: cfg.MaxBodyBytes})
	b := debbugs.New(debbugs.Options{Compat: cfg.CompatDebmessenger, MaxBody: cfg.MaxBodyBytes})
	return parsers.NewClassifier(pts.New(d, b), d, b)
}
