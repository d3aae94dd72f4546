package main

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/journal"
)

// pruneInterval is how often serve prunes the journal when retention is
// set (and once at start).
const pruneInterval = time.Hour

// pruneCutoffs turns the retention keys into Journal.Prune's cutoffs
// (zero: nothing of that kind is pruned).
func pruneCutoffs(cfg *config.Config, now time.Time) (bodies, keys time.Time) {
	if r := cfg.Retention.Duration; r > 0 {
		bodies = now.Add(-r)
	}
	if r := cfg.DedupRetention.Duration; r > 0 {
		keys = now.Add(-r)
	}
	return bodies, keys
}

// pruneJournal prunes j as cfg's retention says, logging what it did:
// the one way serve's hourly prune and "mailgw journal prune" run.
func pruneJournal(ctx context.Context, j *journal.Journal, cfg *config.Config, now time.Time, log *slog.Logger) (journal.PruneStats, error) {
	bodies, keys := pruneCutoffs(cfg, now)
	if bodies.IsZero() {
		return journal.PruneStats{}, nil
	}
	start := time.Now()
	st, err := j.Prune(ctx, bodies, keys)
	attrs := []any{"bodies", st.Bodies, "keys", st.Keys, "reclaimed_bytes", st.Reclaimed,
		"pruned_through_seq_id", st.Mark.Through, "keys_through_seq_id", st.Mark.KeysThrough,
		"retention", cfg.Retention.String(), "took", time.Since(start).Round(time.Millisecond).String()}
	if err != nil {
		log.Error("journal prune failed", append(attrs, "err", err)...)
		return st, err
	}
	if st.Bodies > 0 || st.Keys > 0 {
		log.Info("journal pruned", attrs...)
	}
	return st, nil
}

// pruner is serve's part that prunes the journal: at start, every
// pruneInterval, and at once when a reload changes the retention keys.
type pruner struct {
	cfg  atomic.Pointer[config.Config] // the retention in force
	poke chan struct{}
}

func newPruner(cfg *config.Config) *pruner {
	p := &pruner{poke: make(chan struct{}, 1)}
	p.cfg.Store(cfg)
	return p
}

// set puts a new retention in force (a reload) and prunes by it now.
func (p *pruner) set(cfg *config.Config) {
	p.cfg.Store(cfg)
	select {
	case p.poke <- struct{}{}:
	default:
	}
}

// loop prunes j until ctx ends; with retention 0 a round does nothing.
func (p *pruner) loop(ctx context.Context, j *journal.Journal, log *slog.Logger) {
	t := time.NewTicker(pruneInterval)
	defer t.Stop()
	for {
		// A failed prune is logged and tried again next time: it costs
		// disk, never mail.
		pruneJournal(ctx, j, p.cfg.Load(), time.Now(), log)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-p.poke:
		}
	}
}
