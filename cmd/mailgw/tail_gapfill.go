package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/replayd"
	"github.com/spf13/pflag"
)

// tailGapHelp documents tail's gap filling and discovery (part of tail's
// help and man page).
const tailGapHelp = `Gap filling (docs/replay.md): when a publisher's replay endpoint is known
(the same name in endpoints and replay_endpoints, or --replay-endpoint),
tail tracks its seq_id, fetches missed messages from the replay endpoint
and prints every message exactly once and in order; duplicates and late
arrivals are dropped. A replay endpoint that does not answer is reported on
stderr and live messages go on. A seq_id lower than the last one printed
that is not a repeat means the publisher's journal was reset: it is
reported, and tail follows the new seq_ids. --since-seq N first prints
every message from seq_id N on: while the replay endpoint does not answer
(serve down), tail retries with backoff (up to 5s apart) rather than skip
any; a journal that has no seq_id N-1 is reported (reset, or behind).
--no-gap-fill turns this off.

srv_endpoints domains add their _fedmsg._tcp SRV records as endpoints,
under the domain's name (unreachable or unknown domains are skipped).`

// gapFlags are tail's gap-filling flags.
type gapFlags struct {
	off       bool
	replay    []string
	since     int64
	dnsServer string
}

// addGapFlags registers the gap-filling flags on fs.
func addGapFlags(fs *pflag.FlagSet) *gapFlags {
	g := &gapFlags{}
	fs.BoolVar(&g.off, "no-gap-fill", false, "do not fill gaps from replay endpoints")
	fs.StringArrayVar(&g.replay, "replay-endpoint", nil, "replay endpoint `[PUB=]REP` of publisher PUB (bare REP: of the only --endpoint); repeatable")
	fs.Int64Var(&g.since, "since-seq", 0, "first print the messages from seq_id `N` on")
	fs.StringVar(&g.dnsServer, "dns-server", "", "name server `HOST:PORT` for srv_endpoints (default: those in /etc/resolv.conf)")
	return g
}

// discoverEndpoints resolves srv_endpoints and stores each domain's
// endpoints in cfg.Endpoints[domain], replacing what was there (as
// fedmsg does). Failures are warnings: tail goes on with the rest.
func (g *gapFlags) discoverEndpoints(ctx context.Context, cfg *config.Config, log *slog.Logger) {
	if len(cfg.SRVEndpoints) == 0 {
		return
	}
	var r *replayd.DNSResolver
	if g.dnsServer != "" {
		r = &replayd.DNSResolver{Servers: []string{g.dnsServer}}
	} else {
		var err error
		if r, err = replayd.SystemResolver(); err != nil {
			log.Warn("tail: srv_endpoints not resolved", "err", err)
			return
		}
	}
	found, err := replayd.DiscoverSRV(ctx, r, cfg.SRVEndpoints)
	if err != nil {
		return // interrupted
	}
	if cfg.Endpoints == nil {
		cfg.Endpoints = map[string][]string{}
	}
	for domain, eps := range found {
		log.Debug("tail: endpoints from DNS SRV", "domain", domain, "endpoints", eps)
		cfg.Endpoints[domain] = eps
	}
}

// routes maps each subscribed endpoint to its replay endpoint: from the
// config (a name in both endpoints and replay_endpoints), then the flags.
func (g *gapFlags) routes(cfg *config.Config, endpoints []string) (map[string]string, error) {
	subscribed := map[string]bool{}
	for _, ep := range endpoints {
		subscribed[ep] = true
	}
	out := map[string]string{}
	for name, eps := range cfg.Endpoints {
		rep := cfg.ReplayEndpoints[name]
		for _, ep := range eps {
			if rep != "" && subscribed[ep] {
				out[ep] = rep
			}
		}
	}
	for _, v := range g.replay {
		pub, rep, ok := strings.Cut(v, "=")
		if !ok {
			if len(endpoints) != 1 {
				return nil, fmt.Errorf("--replay-endpoint %s: say which endpoint it serves (PUB=REP) when there are %d", v, len(endpoints))
			}
			pub, rep = endpoints[0], v
		}
		if !subscribed[pub] {
			return nil, fmt.Errorf("--replay-endpoint %s: %s is not an endpoint tail connects to", v, pub)
		}
		out[pub] = rep
	}
	return out, nil
}

// setup builds tail's filter: a GapFiller when some replay endpoint is
// known and gap filling is on, else a pass-through. It also returns the
// messages to print first (--since-seq). Call it after subscribing.
func (g *gapFlags) setup(ctx context.Context, cfg *config.Config, endpoints, topics []string,
	verify func(*bus.Envelope) (string, error), log *slog.Logger) (tailFilter, []bus.Message, error) {
	pass := func(_ context.Context, m bus.Message) []bus.Message { return []bus.Message{m} }
	routes, err := g.routes(cfg, endpoints)
	if err != nil {
		return nil, nil, err
	}
	if g.off || len(routes) == 0 {
		if g.since > 0 {
			return nil, nil, errors.New("--since-seq needs gap filling and a replay endpoint")
		}
		return pass, nil, nil
	}
	eps := make([]string, 0, len(routes))
	for ep := range routes {
		eps = append(eps, ep+" → "+routes[ep])
	}
	sort.Strings(eps)
	log.Debug("tail: gap filling on", "routes", eps)
	gf := replayd.NewGapFiller(routes, replayd.GapOptions{
		MaxReply: cfg.ReplayMaxReply,
		Verify:   verify,
		Topics:   topics,
		Logger:   log,
	})
	var backlog []bus.Message
	if g.since > 0 {
		backlog = gf.Backfill(ctx, g.since)
	}
	return gf.Filter, backlog, nil
}
