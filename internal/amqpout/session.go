package amqpout

import (
	"context"
	"errors"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/debian/mailgw/internal/journal"
)

// session runs one connection: it publishes from the watermark on, in
// order, and moves the watermark as the broker confirms. It returns why
// the connection ended, and worked when it was open and published.
func (out *Outlet) session(ctx context.Context) (worked bool, err error) {
	c, err := out.dialer.dial()
	if err != nil {
		return false, err
	}
	// Closing waits for the broker's close-ok; a broker that does not
	// answer is cut off.
	defer func() {
		done := make(chan struct{})
		go func() { c.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(stopGrace):
			c.kill()
		}
	}()
	// A publish blocked in a write (the broker stopped reading) must not
	// keep a stopping outlet.
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(stopGrace, c.kill) })
	defer stop()

	ch, err := c.Channel()
	if err != nil {
		return false, fmt.Errorf("open channel: %w", err)
	}
	if err := ch.Confirm(false); err != nil {
		return false, fmt.Errorf("confirm mode: %w", err)
	}
	s := &sender{
		out:      out,
		c:        c,
		ch:       ch,
		confirms: ch.NotifyPublish(make(chan amqp.Confirmation, window)),
		closed:   c.NotifyClose(make(chan *amqp.Error, 1)),
		chClosed: ch.NotifyClose(make(chan *amqp.Error, 1)),
		blocked:  c.NotifyBlocked(make(chan amqp.Blocking, 4)),
		sent:     out.confirmed.Load(),
	}
	out.stats.connects.Add(1)
	out.setState(true, nil)
	out.log.Info("amqp: connected", "broker", out.dialer.redacted, "exchange", out.o.Config.Exchange,
		"after_seq_id", s.sent)
	err = s.run(ctx)
	out.mark(s)
	return s.worked, err
}

// sender is the state of one session's publishing.
type sender struct {
	out      *Outlet
	c        *conn
	ch       *amqp.Channel
	confirms chan amqp.Confirmation
	closed   chan *amqp.Error
	chClosed chan *amqp.Error
	blocked  chan amqp.Blocking

	// pending are the seq_ids sent and not yet confirmed, in the order
	// sent: delivery tag n is pending[n-tag0-1].
	pending []int64
	tag0    uint64
	// sent is the last seq_id sent; markedAt the watermark last written.
	sent, markedAt int64
	// more: the last journal read filled its batch (there may be more).
	more, worked bool
	// batch is the last journal read and mb the builder of its messages,
	// both reused from one batch to the next: amqp091 has copied a
	// message out (into its frames) when Publish returns.
	batch journal.Batch
	mb    builder
}

// run is the session's loop; it returns when the connection fails, the
// broker nacks, or ctx ends (then after the confirms of what was sent,
// for up to stopGrace).
func (s *sender) run(ctx context.Context) error {
	out := s.out
	markTick := time.NewTicker(markEvery)
	defer markTick.Stop()
	poll := time.NewTicker(pollEvery)
	defer poll.Stop()
	s.markedAt = out.confirmed.Load()
	lastMark := time.Now()
	for {
		if time.Since(lastMark) >= markEvery { // a long backlog never idles
			out.mark(s)
			lastMark = time.Now()
		}
		added := out.o.Journal.Added() // before reading: no wakeup is lost
		if err := s.fill(ctx); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return s.finish()
		}
		var wake <-chan struct{}
		switch {
		case !s.more:
			wake = added // nothing left to send: wait for the journal
		case window-len(s.pending) >= batch:
			continue // more to send, and room for a batch
		}
		select {
		case c, ok := <-s.confirms:
			if err := s.onConfirm(c, ok); err != nil {
				return err
			}
		case e := <-s.closed:
			return closedErr("connection", e)
		case e := <-s.chClosed:
			return closedErr("channel", e)
		case b := <-s.blocked:
			s.onBlocked(b)
		case <-wake:
		case <-poll.C:
		case <-markTick.C:
			out.mark(s)
			lastMark = time.Now()
		case <-ctx.Done():
			return s.finish()
		}
	}
}

// fill sends what the journal holds after the last sent seq_id, up to
// the window, and notes in s.more whether the journal may hold more.
// While it does, fill waits for room for a whole batch: with the window
// full (a broker slower than the journal), refilling at each confirm
// cost a journal query and a write per message, a third more CPU in a
// replay into a broker that writes to disk (bench/amqpbench).
func (s *sender) fill(ctx context.Context) (err error) {
	room := window - len(s.pending)
	if room <= 0 || (s.more && room < batch) || ctx.Err() != nil {
		return nil
	}
	n := min(room, batch)
	if err := s.out.o.Journal.ReadAfter(s.sent, n, &s.batch); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	entries := s.batch.Entries
	s.more = len(entries) == n
	// The batch goes out in one write.
	s.c.hold()
	defer func() {
		if rerr := s.c.release(); rerr != nil && err == nil {
			err = fmt.Errorf("write: %w", rerr)
		}
	}()
	for i := range entries {
		e := &entries[i]
		m, err := s.mb.build(e, s.out.sentI.Load()+1)
		if err != nil {
			// Damage or a bug: the envelope cannot be sent in any form,
			// and must not stop those after it.
			s.out.stats.skipped.Add(1)
			s.out.log.Error("amqp: envelope skipped", "seq_id", e.SeqID, "msg_id", e.MsgID, "err", err)
			s.skip(e.SeqID)
			continue
		}
		if err := s.ch.Publish(s.out.o.Config.Exchange, m.RoutingKey, false, false, m.Publishing); err != nil {
			// Nothing stays held while waiting for the broker's reason
			// (amqp091 may have answered its close through the socket).
			s.c.release()
			return s.why(fmt.Errorf("publish seq_id %d: %w", e.SeqID, err))
		}
		s.pending = append(s.pending, e.SeqID)
		s.sent = e.SeqID
		s.out.sentI.Add(1)
		s.out.stats.published.Add(1)
		s.worked = true
	}
	// Drain the confirms that are there already, without waiting.
	for {
		select {
		case c, ok := <-s.confirms:
			if err := s.onConfirm(c, ok); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

// skip passes over seq, which is not sent: when nothing is pending it
// counts as confirmed at once; else the last pending message stands for
// it too (its confirm, which comes after those before it, moves the
// watermark to seq).
func (s *sender) skip(seq int64) {
	s.sent = seq
	if len(s.pending) == 0 {
		s.out.advance(seq)
		return
	}
	s.pending[len(s.pending)-1] = seq
}

// errConfirmsClosed is why a session ends when the broker's confirms
// stop coming without a reason given within a second (s.why).
var errConfirmsClosed = errors.New("confirms stopped: the channel or the connection closed")

// onConfirm handles a receive from s.confirms. amqp091 closes that
// channel when the channel or the connection closes; a receive then gives
// a zero Confirmation, which confirms nothing: the session ends with the
// broker's reason for the close (s.why), not as an out-of-order confirm.
func (s *sender) onConfirm(c amqp.Confirmation, ok bool) error {
	if !ok {
		return s.why(errConfirmsClosed)
	}
	return s.confirm(c)
}

// confirm handles one confirmation; they arrive in delivery-tag order
// (amqp091 resequences a multiple ack). A nack ends the session: the
// broker could not take the message, and it is sent again from the
// watermark after a pause.
func (s *sender) confirm(c amqp.Confirmation) error {
	i := int(c.DeliveryTag - s.tag0 - 1)
	if i != 0 || len(s.pending) == 0 {
		return fmt.Errorf("confirm for delivery tag %d out of order (%d pending from %d)", c.DeliveryTag, len(s.pending), s.tag0+1)
	}
	seq := s.pending[0]
	if !c.Ack {
		s.out.stats.nacked.Add(1)
		return fmt.Errorf("broker nacked seq_id %d (it could not store it; check the broker's log and queue limits)", seq)
	}
	s.pending = s.pending[1:]
	s.tag0++
	s.out.stats.confirmed.Add(1)
	s.out.advance(seq)
	return nil
}

// finish waits up to stopGrace for the confirms of what was sent.
func (s *sender) finish() error {
	deadline := time.After(stopGrace)
	for len(s.pending) > 0 {
		select {
		case c, ok := <-s.confirms:
			if err := s.onConfirm(c, ok); err != nil {
				return err
			}
		case e := <-s.closed:
			return closedErr("connection", e)
		case e := <-s.chClosed:
			return closedErr("channel", e)
		case <-deadline:
			return fmt.Errorf("stopping with %d messages unconfirmed (sent again at the next start)", len(s.pending))
		}
	}
	return nil
}

// onBlocked reports the broker's flow control (a resource alarm): the
// outlet waits, publishing nothing.
func (s *sender) onBlocked(b amqp.Blocking) {
	if b.Active {
		s.out.setState(true, fmt.Errorf("broker blocks publishers: %s", b.Reason))
		s.out.log.Warn("amqp: broker blocks publishers; events wait in the journal", "reason", b.Reason)
		return
	}
	s.out.setState(true, nil)
	s.out.log.Info("amqp: broker unblocked publishers")
}

// why returns the broker's reason for closing the channel or the
// connection when a publish failed on it (a publish that finds the
// channel closed only says so), else err.
func (s *sender) why(err error) error {
	select {
	case e := <-s.chClosed:
		return closedErr("channel", e)
	case e := <-s.closed:
		return closedErr("connection", e)
	case <-time.After(time.Second):
		return err
	}
}

// closedErr explains a closed connection or channel; the broker's reason
// (access refused to the exchange, exchange not found …) is in e.
func closedErr(what string, e *amqp.Error) error {
	if e == nil {
		return fmt.Errorf("%s closed", what)
	}
	var hint string
	switch e.Code {
	case amqp.AccessRefused:
		hint = " (the user needs write permission on the exchange)"
	case amqp.NotFound:
		hint = " (the exchange in amqp.exchange does not exist)"
	}
	return fmt.Errorf("%s closed by the broker: %w%s", what, e, hint)
}

// mark writes the watermark to the journal when it moved.
func (out *Outlet) mark(s *sender) {
	seq := out.confirmed.Load()
	if seq == s.markedAt {
		return
	}
	if err := out.o.Journal.MarkOutlet(OutletName, seq); err != nil {
		// Sent again after a restart, which is allowed.
		out.log.Warn("amqp: cannot record the watermark", "seq_id", seq, "err", err)
		return
	}
	s.markedAt = seq
}
