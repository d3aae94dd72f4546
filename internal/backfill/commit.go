package backfill

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/archive"
	"github.com/debian/mailgw/internal/engine"
)

// committer takes the prepared items in archive order, hands them to the
// target in batches, counts them and moves the checkpoint.
type committer struct {
	o     *Options
	s     *Summary
	cp    *checkpoint
	prog  *progress
	path  string
	next  int           // seq of the next item to handle
	held  map[int]*item // items that came early
	batch []*item
	since int // mails since the last checkpoint write

	// ModePublish: each batch is one Backfill job of the engine
	// (o.Engine), which journals it while the workers prepare the next
	// and publishes it while it journals the next. The job's callbacks
	// (on the engine's goroutines, one job at a time, in archive order)
	// alone write s.New, s.Duplicates, since and the checkpoint while
	// jobs are out; slots bounds the jobs out, so that memory stays flat.
	slots   chan struct{}
	jobs    sync.WaitGroup
	errMu   sync.Mutex
	jobErr  error // the first failure a job reported
	ownsBus bool  // the engine is this replay's: a publish failure stops it
}

// jobsOut bounds the batches of one replay queued in or passing through
// the engine. The journal commit (an fsync) blocks the engine's
// journaling goroutine; batches queued let the parse/sign workers run on
// meanwhile, and the engine merges them into larger transactions when
// the journal falls behind.
const jobsOut = 8

// fail records the first error a job reports.
func (c *committer) fail(err error) {
	c.errMu.Lock()
	if c.jobErr == nil {
		c.jobErr = err
	}
	c.errMu.Unlock()
}

func (c *committer) err() error {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	return c.jobErr
}

// submit hands a batch to the engine. Once it is journaled, the counts
// and the checkpoint move past it (index, offset: its last mail).
func (c *committer) submit(ctx context.Context, batch []*item, index int, offset int64) error {
	if err := c.err(); err != nil {
		return err
	}
	var envs []*bus.Envelope
	known := 0
	for _, it := range batch {
		for i, env := range it.envs {
			if it.dups[i] {
				known++
			} else {
				envs = append(envs, env)
			}
		}
	}
	if c.o.Hold != nil {
		if err := c.o.Hold(ctx); err != nil {
			return err
		}
	}
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	c.jobs.Add(1)
	release := func() { <-c.slots; c.jobs.Done() }
	j := &engine.Job{Ctx: ctx, Envelopes: envs}
	j.Journaled = func(added []*bus.Envelope, err error) {
		if err != nil {
			c.fail(fmt.Errorf("replay: %w", err))
			release()
			return
		}
		c.s.Duplicates += known + len(envs) - len(added)
		c.s.New += len(added)
		if c.o.Observe != nil {
			isAdded := make(map[*bus.Envelope]bool, len(added))
			for _, env := range added {
				isAdded[env] = true
			}
			for _, it := range batch {
				c.observe(it, func(i int) bool { return isAdded[it.envs[i]] })
			}
		}
		c.cp.Index, c.cp.Offset = index, offset
		if c.o.OnJournaled != nil {
			c.o.OnJournaled(index, offset)
		}
		if c.since += len(batch); c.since >= c.o.CheckpointEvery {
			c.since = 0
			if err := c.saveCheckpoint(); err != nil {
				c.fail(err)
			}
		}
	}
	j.Published = func(err error) {
		if err != nil && c.ownsBus {
			c.fail(fmt.Errorf("replay: publish (the journal keeps the unpublished envelopes): %w", err))
		}
		release()
	}
	if err := c.o.Engine.Submit(ctx, engine.Backfill, j); err != nil {
		release()
		return err
	}
	return nil
}

// wait waits until every submitted batch is published (or failed) and
// returns the first failure.
func (c *committer) wait() error {
	c.jobs.Wait()
	return c.err()
}

// run consumes in until it is closed. A cancelled ctx stops it without
// committing the open batch (its mails are redone on resume).
func (c *committer) run(ctx context.Context, in <-chan *item) (err error) {
	c.held = map[int]*item{}
	if c.o.Mode == ModePublish {
		c.slots = make(chan struct{}, jobsOut)
		defer func() {
			if jerr := c.wait(); err == nil {
				err = jerr
			}
		}()
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			if err := c.flush(ctx); err != nil {
				return err
			}
		case it, ok := <-in:
			if !ok {
				if err := ctx.Err(); err != nil {
					return err
				}
				return c.flush(ctx)
			}
			c.held[it.seq] = it
			for {
				it, ok := c.held[c.next]
				if !ok {
					break
				}
				delete(c.held, c.next)
				c.next++
				if err := c.take(ctx, it); err != nil {
					return err
				}
			}
		}
	}
}

// take handles one item in order.
func (c *committer) take(ctx context.Context, it *item) error {
	s := c.s
	switch it.what {
	case itemError:
		s.Errors++
		c.o.Logger.Error("replay: damaged archive", "err", it.err)
		var ae *archive.Error
		if errors.As(it.err, &ae) && ae.Fatal {
			// The rest of the stream is unreadable; what came before
			// stays replayed.
			return c.flush(ctx)
		}
		c.batch = append(c.batch, it)
	case itemResumed:
		s.Resumed++
		c.prog.add(it.inPos)
		return nil
	case itemFiltered:
		s.Mails++
		s.Filtered++
		c.batch = append(c.batch, it)
	case itemMail:
		if it.fatal != nil {
			return fmt.Errorf("replay: %s mail %d: %w", c.path, it.mail.Index, it.fatal)
		}
		s.Mails++
		s.Bytes += int64(len(it.mail.Data))
		s.Events += len(it.envs)
		for _, env := range it.envs {
			s.Topics[env.Topic]++
		}
		if it.reason != "" {
			s.Quarantined++
			s.Reasons[reasonKind(it.reason)]++
		}
		if c.o.OnMail != nil {
			c.o.OnMail(it.reason, it.kind)
		}
		c.batch = append(c.batch, it)
	}
	c.prog.add(it.inPos)
	if len(c.batch) >= c.o.BatchSize || (len(c.batch) >= liveBatch && c.o.Mode == ModePublish && c.o.Engine.LiveFlowing()) {
		return c.flush(ctx)
	}
	return nil
}

// liveBatch is the batch size of a replay on an engine that journals
// live mail as it flows (serve's): the engine journals a batch whole, and
// live mail waits behind at most about one (engine.Options.BackfillTxTime).
const liveBatch = 64

// flush hands the batch to the target and moves the checkpoint past it.
func (c *committer) flush(ctx context.Context) error {
	if len(c.batch) == 0 {
		return nil
	}
	last := c.batch[len(c.batch)-1]
	var err error
	switch c.o.Mode {
	case ModePublish:
		// The job moves the checkpoint once the batch is journaled.
		err = c.submit(ctx, c.batch, last.mail.Index, last.mail.Offset)
		c.batch = nil
		return err
	case ModeSpool:
		err = c.spool(ctx)
	default:
		for _, it := range c.batch {
			c.observe(it, func(int) bool { return false })
		}
	}
	if err != nil {
		return err
	}
	c.cp.Index, c.cp.Offset = last.mail.Index, last.mail.Offset
	c.since += len(c.batch)
	c.batch = c.batch[:0]
	if c.since >= c.o.CheckpointEvery {
		c.since = 0
		return c.saveCheckpoint()
	}
	return nil
}

func (c *committer) observe(it *item, added func(i int) bool) {
	if c.o.Observe == nil {
		return
	}
	for i, env := range it.envs {
		c.o.Observe(env, added(i))
	}
}
