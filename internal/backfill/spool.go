package backfill

import (
	"bytes"
	"context"
	"fmt"
	"github.com/debian/mailgw/internal/spool"
	"time"
)

// spool delivers each mail of the batch that has a new event into the
// spool of serve, first waiting while serve has SpoolMax mails or more
// still to process.
func (c *committer) spool(ctx context.Context) error {
	if err := c.waitSpool(ctx); err != nil {
		return err
	}
	for _, it := range c.batch {
		if it.what != itemMail || len(it.envs) == 0 {
			continue
		}
		fresh := 0
		for _, d := range it.dups {
			if !d {
				fresh++
			}
		}
		c.s.Duplicates += len(it.envs) - fresh
		c.observe(it, func(i int) bool { return !it.dups[i] })
		if fresh == 0 {
			continue
		}
		o := spool.Origin{Replayed: true, TrustArchive: c.o.TrustArchive}
		if _, err := c.o.Spool.DeliverFrom(bytes.NewReader(it.mail.Data), 0, o); err != nil {
			return fmt.Errorf("replay: spool: %w", err)
		}
		c.s.Spooled++
		c.s.New += fresh
	}
	return nil
}

// waitSpool blocks while the spool holds SpoolMax or more pending mails,
// so that a backfill does not bury serve (and live mail) under files.
func (c *committer) waitSpool(ctx context.Context) error {
	if c.o.SpoolMax <= 0 {
		return nil
	}
	logged := false
	for {
		pending, err := c.o.Spool.Pending()
		if err != nil {
			return fmt.Errorf("replay: spool: %w", err)
		}
		if len(pending) < c.o.SpoolMax {
			return nil
		}
		if !logged {
			c.o.Logger.Info("replay: waiting for serve to work off the spool", "pending", len(pending), "spool_max", c.o.SpoolMax)
			logged = true
		}
		t := time.NewTimer(200 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
