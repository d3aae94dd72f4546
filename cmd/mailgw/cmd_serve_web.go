package main

import (
	"context"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/web"
)

// The web listener ([web] listen, docs/web.md): the live view and the
// history API, fed by the publisher (hubPublisher) and answered from the
// journal.

// newWeb makes the web listener when [web] listen is set (nil otherwise).
func (d *daemon) newWeb() *web.Server {
	cfg := d.cfg
	if cfg.Web.Listen == "" {
		return nil
	}
	o := web.Options{
		Journal:            d.journal,
		MaxStreams:         cfg.Web.MaxStreams,
		MaxScan:            cfg.Web.MaxScan,
		MaxBodies:          cfg.Web.MaxBodies,
		StreamWriteTimeout: cfg.Web.StreamWriteTimeout.Duration,
		Logger:             d.log.With("component", "web"),
		Metrics:            d.m,
	}
	// The detail view checks signatures against the keys tail and verify
	// trust; without any, it says it did not check.
	if files := trustedKeyrings(cfg, d.log); len(files) > 0 {
		if kr, err := loadKeyring(cfg, files); err != nil {
			d.log.Warn("web: keyring not loaded; signatures are not checked", "err", err)
		} else {
			policy := verifyPolicy(cfg)
			o.Verify = func(env *bus.Envelope) (string, error) { return kr.Verify(env, policy) }
		}
	}
	return web.New(o)
}

// hubPublisher publishes to the bus and hands every journaled envelope to
// the web listener's hub as well, whether the bus took it or not (a
// failed publish is retried from the journal; the hub ignores what it
// has seen).
type hubPublisher struct {
	bus.Publisher
	hub *web.Hub
}

// Publish implements bus.Publisher.
func (p hubPublisher) Publish(ctx context.Context, env *bus.Envelope) error {
	err := p.Publisher.Publish(ctx, env)
	p.hub.Publish(ctx, env)
	return err
}
