package backfill

import (
	"context"
	"fmt"

	"github.com/debian/mailgw/bus"
)

// journalDepth is how many batches may wait for the journaler. The
// journal commit (an fsync) blocks its goroutine; with the committer
// waiting on it, the workers' output channel filled and the parse/sign
// workers stood still for every commit. Batches queued let them run
// on while one batch is being journaled; the bound keeps memory flat.
const journalDepth = 4

// journalBatch is a batch of items, in archive order, on its way to the
// journaler; index and offset are the last mail's (the checkpoint once
// the batch is journaled).
type journalBatch struct {
	items  []*item
	index  int
	offset int64
}

// startJournaler starts the journaling goroutine of ModePublish and the
// publishing goroutine it feeds: each batch is journaled in one
// transaction (in order, so seq_ids follow archive order), then its new
// envelopes go to the publisher, and the checkpoint moves past it. It
// sends exactly one value on jDone: the first error as soon as it
// happens, or nil once jCh is closed and everything was published; it
// closes jExit when it has returned, after stopping the publisher.
//
// It alone writes s.New and s.Duplicates and the checkpoint while it
// runs; the committer touches neither until stopJournaler returned.
func (c *committer) startJournaler(ctx context.Context) {
	in, done, exit := make(chan journalBatch, journalDepth), make(chan error, 1), make(chan struct{})
	c.jCh, c.jDone, c.jExit = in, done, exit
	c.startPublisher(ctx)
	go func() {
		defer close(exit)
		var err error
		since := 0
		for b := range in {
			if err != nil || ctx.Err() != nil {
				continue // not journaled: a resumed run redoes these mails
			}
			b = coalesce(b, in, journalMerge*c.o.BatchSize)
			if err = c.journal(ctx, b.items); err == nil {
				c.cp.Index, c.cp.Offset = b.index, b.offset
				if since += len(b.items); since >= c.o.CheckpointEvery {
					since = 0
					err = c.saveCheckpoint()
				}
			}
			if err != nil {
				done <- err
			}
		}
		perr := c.stopPublisher()
		c.flushMarks()
		if err == nil {
			done <- perr
		}
	}()
}

// journalMerge bounds coalesce: at most this many batches' worth of
// items go into one transaction.
const journalMerge = 4

// coalesce appends to b the batches already queued on in, without
// waiting, up to max items, and returns the merged batch. When the
// journal falls behind, its transactions grow: the msg_id index takes
// random keys, so a commit writes most of the index pages it touches
// whatever the batch size, and fewer, larger commits write each page
// less often.
func coalesce(b journalBatch, in <-chan journalBatch, limit int) journalBatch {
	for len(b.items) < limit {
		select {
		case next, ok := <-in:
			if !ok {
				return b
			}
			b.items = append(b.items, next.items...)
			b.index, b.offset = next.index, next.offset
		default:
			return b
		}
	}
	return b
}

// stopJournaler waits until every queued batch is journaled and published
// and returns the first error, if any. It returns only when the journaler
// and the publisher have stopped: after an error jDone answers at once,
// while the publisher may still be marking what it published, and a Run
// that returned before that lost the marks (the next run published those
// envelopes again) and raced its checkpoint with the journaler.
func (c *committer) stopJournaler() error {
	if c.jCh != nil {
		close(c.jCh)
		c.jCh = nil
		c.jErr = <-c.jDone
	}
	if c.jExit != nil {
		<-c.jExit
		c.jExit = nil
	}
	return c.jErr
}

// sendJournal queues the batch for the journaler; it returns the
// journaler's error if it failed.
func (c *committer) sendJournal(b journalBatch) error {
	if c.jCh == nil {
		return c.jErr
	}
	select {
	case c.jCh <- b:
		return nil
	case c.jErr = <-c.jDone:
		close(c.jCh) // let the journaler end
		c.jCh = nil
		return c.jErr
	}
}

// journal journals the new envelopes of a batch in one transaction and
// hands those the journal added to the publishing goroutine.
func (c *committer) journal(ctx context.Context, batch []*item) error {
	var envs []*bus.Envelope
	for _, it := range batch {
		for i, env := range it.envs {
			if it.dups[i] {
				c.s.Duplicates++
			} else {
				envs = append(envs, env)
			}
		}
	}
	marks := c.takeMarks()
	added, err := c.o.Journal.AddMarking(envs, marks)
	if err != nil {
		c.handMarks(marks) // for flushMarks
		return fmt.Errorf("replay: %w", err)
	}
	c.s.Duplicates += len(envs) - len(added)
	if c.o.Observe != nil {
		isAdded := make(map[*bus.Envelope]bool, len(added))
		for _, env := range added {
			isAdded[env] = true
		}
		for _, it := range batch {
			c.observe(it, func(i int) bool { return isAdded[it.envs[i]] })
		}
	}
	c.s.New += len(added)
	if len(added) > 0 {
		select {
		case c.pubCh <- added:
		case c.pubErr = <-c.pubDone:
			close(c.pubCh) // the publisher failed; let it end
			c.pubCh = nil
			return c.pubErr
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
