package backfill

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/archive"
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

	// ModePublish: batches go to a journaling goroutine (journaler.go),
	// so that journaling one batch overlaps preparing the next, and
	// journaled batches to a publishing goroutine, so that publishing
	// one batch overlaps journaling the next; the order (seq_id order)
	// is kept.
	jCh     chan journalBatch
	jDone   chan error
	jExit   chan struct{} // closed when the journaler has returned
	jErr    error
	pubCh   chan []*bus.Envelope
	pubDone chan error
	pubErr  error
	marksMu sync.Mutex
	marks   []int64 // published, for the journaler to mark (handMarks)
}

// startPublisher starts the publishing goroutine. It sends exactly one
// value on pubDone: the first publish error as soon as it happens, or nil
// once pubCh is closed and everything was published.
//
// It does not mark what it published in the journal itself: a mark is a
// write transaction, which waited for the journal's lock while the
// journaler's Add held it through its fsyncs (about a third of the
// publisher's time), and the publisher then fell behind. It hands its
// seq_ids to the journaler (handMarks), whose next Add records them in
// its own transaction; the journaler marks what is left once the
// publisher has stopped. A crash loses the marks of at most the batches
// published since the last Add, and losing a mark only republishes
// (consumers drop duplicates by msg_id).
func (c *committer) startPublisher(ctx context.Context) {
	in, done := make(chan []*bus.Envelope, 4), make(chan error, 1)
	c.pubCh, c.pubDone = in, done
	go func() {
		var err error
		var seqs []int64 // published, not yet handed to the journaler
		for envs := range in {
			if err != nil {
				continue // journaled: the next replay or serve publishes them
			}
			for _, env := range envs {
				if err = c.o.Publisher.Publish(ctx, env); err != nil {
					break
				}
				seqs = append(seqs, env.SeqID)
			}
			seqs = c.handMarks(seqs)
			if err != nil {
				done <- fmt.Errorf("replay: publish (the journal keeps the unpublished envelopes): %w", err)
			}
		}
		if err == nil {
			done <- nil
		}
	}()
}

// handMarks adds seqs to the marks the journaler records next, and
// returns seqs emptied for reuse.
func (c *committer) handMarks(seqs []int64) []int64 {
	if len(seqs) > 0 {
		c.marksMu.Lock()
		c.marks = append(c.marks, seqs...)
		c.marksMu.Unlock()
	}
	return seqs[:0]
}

// takeMarks returns the marks handed over so far and forgets them.
func (c *committer) takeMarks() []int64 {
	c.marksMu.Lock()
	defer c.marksMu.Unlock()
	m := c.marks
	c.marks = nil
	return m
}

// flushMarks marks in the journal what the publisher handed over and no
// Add recorded; the journaler calls it once the publisher has stopped.
func (c *committer) flushMarks() {
	if err := c.o.Journal.MarkPublished(c.takeMarks()...); err != nil {
		c.o.Logger.Warn("replay: journal: mark published", "err", err)
	}
}

// stopPublisher waits until every journaled batch is published and
// returns the publish error, if any.
func (c *committer) stopPublisher() error {
	if c.pubCh == nil {
		return c.pubErr
	}
	close(c.pubCh)
	c.pubCh = nil
	c.pubErr = <-c.pubDone
	return c.pubErr
}

// run consumes in until it is closed. A cancelled ctx stops it without
// committing the open batch (its mails are redone on resume).
func (c *committer) run(ctx context.Context, in <-chan *item) (err error) {
	c.held = map[int]*item{}
	if c.o.Mode == ModePublish {
		c.startJournaler(ctx)
		defer func() {
			if perr := c.stopJournaler(); err == nil {
				err = perr
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
		c.batch = append(c.batch, it)
	}
	c.prog.add(it.inPos)
	if len(c.batch) >= c.o.BatchSize {
		return c.flush(ctx)
	}
	return nil
}

// flush hands the batch to the target and moves the checkpoint past it.
func (c *committer) flush(ctx context.Context) error {
	if len(c.batch) == 0 {
		return nil
	}
	last := c.batch[len(c.batch)-1]
	var err error
	switch c.o.Mode {
	case ModePublish:
		// The journaler moves the checkpoint once the batch is journaled.
		err = c.sendJournal(journalBatch{items: c.batch, index: last.mail.Index, offset: last.mail.Offset})
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
