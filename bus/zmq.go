package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/debian/mailgw/bus/zmtp"
)

// ErrClosed is returned by a publisher or subscriber used after Close.
var ErrClosed = errors.New("bus: closed")

// DefaultLinger is how long ZMQPublisher.Close waits for queued messages
// to reach connected subscribers (fedmsg's zmq_linger, 1 s).
const DefaultLinger = time.Second

// DefaultMaxQueueBytes is the default per-subscriber queue bound in bytes.
const DefaultMaxQueueBytes = 64 << 20

// DefaultStallTimeout and DefaultMaxWait are the defaults of
// ZMQPublisher.StallTimeout and MaxWait.
const (
	DefaultStallTimeout = 2 * time.Second
	DefaultMaxWait      = 10 * time.Second
)

// ZMQPublisher is a ZeroMQ PUB socket speaking ZMTP 3.0 to libzmq and zmq4
// subscribers, with the handshake and framing of bus/zmtp (which
// bounds every length a peer announces), and does its own fan-out,
// because go-zeromq/zmq4's PUB (v0.17.0, pub.go) sends to every peer from
// one goroutine under one lock: a subscriber that stops reading blocks all
// the others, and since accepting and reaping connections take the same
// lock, new subscribers hang and departed ones are never removed
// (go-zeromq/zmq4 issue 151). Tried here: with one subscriber that never
// reads, a healthy one got 953 of 20,000 messages and Close hung. Its HWM
// also caps one shared queue rather than each subscriber's.
//
// Here every subscriber has its own writer goroutine and a queue of at
// most hwm messages (and MaxQueueBytes), so a stuck subscriber costs at
// most that much memory. A subscriber that is slow but drains is not
// stuck: Publish waits for room in its queue (see StallTimeout). A
// message for a subscriber that is stuck is dropped for that subscriber
// only and counted in Dropped, as libzmq's PUB does.
type ZMQPublisher struct {
	hwm int
	log *slog.Logger
	// Linger is how long Close waits for queues to drain (DefaultLinger).
	Linger time.Duration
	// MaxQueueBytes also bounds each subscriber's queue in bytes
	// (DefaultMaxQueueBytes), so that large messages cannot make hwm
	// messages a lot of memory. Set it before publishing.
	MaxQueueBytes int64
	// StallTimeout and MaxWait decide what a full queue costs. Publish
	// waits for room in a subscriber's full queue while the subscriber
	// drains it: its writer completes a write at least every
	// StallTimeout (DefaultStallTimeout). A subscriber that wrote
	// nothing for StallTimeout while messages were pending, or that
	// Publish has waited for MaxWait (DefaultMaxWait) in all since its
	// queue was last empty, is stuck: its messages are dropped, with no
	// more waiting, until its queue has emptied. So a subscriber that
	// reads slower than a burst arrives loses nothing, and one that
	// stops reading or trickles holds the bus up at most once, for at
	// most MaxWait. In all, over every subscriber, waiting takes at
	// most MaxWait plus a tenth of the time since (waitBudget), so that
	// many subscribers that trickle in turn cannot hold the bus up
	// longer than one does. StallTimeout 0 never waits (libzmq's
	// behaviour). Set both before publishing.
	StallTimeout, MaxWait time.Duration
	// MaxSubscribers bounds the connections served at once, subscribers
	// and peers still in the handshake (0: no bound); more are closed
	// as soon as they are accepted, and counted in Refused. With
	// MaxQueueBytes it bounds the bus's memory: MaxSubscribers times
	// (MaxQueueBytes plus PeerOverhead). Set it before the first
	// subscriber connects.
	MaxSubscribers int

	pubMu sync.Mutex // serialises Publish so that i follows send order
	n     int64      // last i given out
	// The time the publisher may still spend waiting for full queues,
	// as of budgetAt (waitBudget); under pubMu.
	budget   time.Duration
	budgetAt time.Time

	mu       sync.Mutex
	peers    map[*pubPeer]struct{}
	greeting map[net.Conn]struct{} // connections still in the handshake
	lns      []net.Listener
	closed   bool
	wg       sync.WaitGroup

	stop    func() bool // detaches Close from the constructor's ctx
	dropped atomic.Uint64
	sent    atomic.Uint64
	refused atomic.Uint64
}

// PeerOverhead is about what one connected subscriber costs besides its
// queue (goroutines, the handshake's read buffer, bookkeeping), measured
// with 1,000 stuck subscribers (TestZMQStuckSubscribersMemory); the
// worst case of the bus's memory is MaxSubscribers × (MaxQueueBytes +
// PeerOverhead).
const PeerOverhead = 32 << 10

// NewZMQPublisher binds a PUB socket to every endpoint (tcp://host:port,
// tcp://*:port, port 0 for a free port, or ipc://path) and starts
// accepting subscribers. hwm is the per-subscriber queue bound (> 0).
// Cancelling ctx closes the publisher.
func NewZMQPublisher(ctx context.Context, endpoints []string, hwm int) (*ZMQPublisher, error) {
	if hwm <= 0 {
		return nil, fmt.Errorf("bus: high-water mark %d: must be positive", hwm)
	}
	if len(endpoints) == 0 {
		return nil, errors.New("bus: no endpoint to bind")
	}
	p := &ZMQPublisher{hwm: hwm, log: slog.Default(), Linger: DefaultLinger, MaxQueueBytes: DefaultMaxQueueBytes,
		StallTimeout: DefaultStallTimeout, MaxWait: DefaultMaxWait,
		peers: map[*pubPeer]struct{}{}, greeting: map[net.Conn]struct{}{}}
	for _, ep := range endpoints {
		if _, _, err := zmtp.SplitEndpoint(ep); err != nil {
			p.Close()
			return nil, err
		}
		ln, err := zmtp.Listen(ep)
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("bus: bind %s: %w", ep, err)
		}
		p.lns = append(p.lns, ln)
		p.wg.Add(1)
		go p.accept(ln)
	}
	p.mu.Lock()
	p.stop = context.AfterFunc(ctx, func() { p.Close() })
	p.mu.Unlock()
	return p, nil
}

// Addrs returns the bound endpoints, with the real port when 0 was asked.
func (p *ZMQPublisher) Addrs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, len(p.lns))
	for i, ln := range p.lns {
		out[i] = zmtp.EndpointOf(ln.Addr())
	}
	return out
}

// Publish sets env.I to the next counter value (1, 2, …), marshals env
// to canonical JSON and sends [env.Topic, body]. Bodies stored elsewhere
// (the journal) carry whatever i they were marshalled with; callers that
// want i in send order marshal through Publish.
func (p *ZMQPublisher) Publish(ctx context.Context, env *Envelope) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p.pubMu.Lock()
	defer p.pubMu.Unlock()
	env.I = p.n + 1
	// The wire message is built in place: the topic frame, then the body
	// encoded straight into its frame, with no scratch copy.
	wire := make([]byte, 0, 2*len(env.Topic)+len(env.sealed)+len(env.Signature)+len(env.MsgID)+len(env.Username)+len(env.Crypto)+200)
	wire = zmtp.AppendFrame(wire, zmtp.FlagMore, []byte(env.Topic))
	wire, at := zmtp.BeginFrame(wire, 0)
	wire, err := env.AppendMarshal(wire)
	if err != nil {
		env.I = 0
		return fmt.Errorf("bus: publish %s: %w", env.Topic, err)
	}
	if err := p.enqueue(ctx, env.Topic, zmtp.EndFrame(wire, at)); err != nil {
		return err
	}
	p.n = env.I
	return nil
}

// PublishRaw sends the two frames [topic, body] unchanged to every
// subscriber whose subscription matches topic. A subscriber whose queue
// is full (hwm messages or MaxQueueBytes) is waited for while it drains,
// else it misses the message, counted in Dropped (see StallTimeout).
func (p *ZMQPublisher) PublishRaw(topic string, body []byte) error {
	p.pubMu.Lock()
	defer p.pubMu.Unlock()
	return p.enqueue(context.Background(), topic, zmtp.EncodeMessage([]byte(topic), body))
}

// enqueue queues the encoded message wire for every subscriber of topic
// (see PublishRaw); the caller holds pubMu, so that waiting for one
// subscriber keeps every subscriber's messages in order.
func (p *ZMQPublisher) enqueue(ctx context.Context, topic string, wire []byte) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	var full []*pubPeer
	for peer := range p.peers {
		if !peer.matches(topic) {
			continue
		}
		switch {
		case peer.offer(wire, p.MaxQueueBytes):
			p.sent.Add(1)
		case p.StallTimeout > 0 && !peer.stalled.Load():
			full = append(full, peer)
		default:
			p.dropped.Add(1)
		}
	}
	p.mu.Unlock()
	for _, peer := range full {
		p.waitRoom(ctx, peer, wire)
	}
	return nil
}

// waitRoom queues wire for peer, whose queue was full, once it has room,
// as long as peer drains (StallTimeout, MaxWait); a peer that does not
// is marked stalled and misses wire, as it does every message that finds
// its queue full until the queue has emptied.
func (p *ZMQPublisher) waitRoom(ctx context.Context, peer *pubPeer, wire []byte) {
	start := time.Now()
	budget := p.waitBudget(start)
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
		spent := time.Since(start)
		peer.waited.Add(int64(spent))
		p.budget -= spent
	}()
	for {
		if peer.offer(wire, p.MaxQueueBytes) {
			p.sent.Add(1)
			return
		}
		now := time.Now()
		idle := now.Sub(peer.lastProgress())
		waited := time.Duration(peer.waited.Load()) + now.Sub(start)
		if ctx.Err() != nil {
			p.dropped.Add(1) // stopping
			return
		}
		left := budget - now.Sub(start)
		if idle >= p.StallTimeout || waited >= p.MaxWait || left <= 0 {
			peer.stalled.Store(true)
			p.dropped.Add(1)
			p.log.Warn("zmq: subscriber not draining its queue; dropping its messages until it has caught up",
				"peer", peer.conn.RemoteAddr().String(), "idle", idle.Round(time.Millisecond),
				"waited", waited.Round(time.Millisecond), "queued_bytes", peer.pendingBytes.Load(),
				"wait_budget_left", max(0, left).Round(time.Millisecond))
			return
		}
		d := min(p.StallTimeout-idle, p.MaxWait-waited, left)
		if timer == nil {
			timer = time.NewTimer(d)
		} else {
			timer.Reset(d)
		}
		select {
		case <-peer.drained:
		case <-timer.C:
		case <-ctx.Done():
		case <-peer.done:
			return // gone: nothing to deliver to
		}
	}
}

// waitBudget returns how long the publisher may wait for full queues
// now, all subscribers together: MaxWait at first, a tenth of the time
// that passes added back, up to MaxWait. The caller holds pubMu.
func (p *ZMQPublisher) waitBudget(now time.Time) time.Duration {
	if p.budgetAt.IsZero() {
		p.budget = p.MaxWait
	} else {
		p.budget = min(p.MaxWait, p.budget+now.Sub(p.budgetAt)/10)
	}
	p.budgetAt = now
	return p.budget
}

// Dropped counts messages not queued for a subscriber because its queue
// was full and it did not drain (see StallTimeout).
func (p *ZMQPublisher) Dropped() uint64 { return p.dropped.Load() }

// Backlog returns the bytes queued for the subscriber with the most
// queued, and the bound of each queue (MaxQueueBytes): a backfill waits
// while a subscriber lags (internal/control), instead of making the bus
// drop its messages.
func (p *ZMQPublisher) Backlog() (queued, limit int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for peer := range p.peers {
		queued = max(queued, peer.pendingBytes.Load())
	}
	return queued, p.MaxQueueBytes
}

// Lag returns how long a message published now waits before the
// subscriber that reads furthest behind reads it, as its last PING
// round trip measured (pubPeer's lagProbe) or how long messages have
// been pending in its queue and writer, the greater: the round trip is what sits in the kernel's socket buffers
// and the subscriber's reader, which Backlog does not count. Subscribers that have not answered a PING are left out (a
// subscriber answers its first PING after its first messages); ok is
// false when none answered. serve holds a backfill while a subscriber
// lags (internal/control's LagGate), so that live mail does not wait
// behind it.
func (p *ZMQPublisher) Lag() (lag time.Duration, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	for peer := range p.peers {
		if l, answers := peer.lag.get(now); answers {
			// A PING waits behind the queue too, but is sent only
			// once the writer gets to it.
			lag, ok = max(lag, l, peer.pendingAge(now)), true
		}
	}
	return lag, ok
}

// Behind returns how many messages the subscriber furthest behind has
// not yet confirmed reading: those queued for it, and those written to
// it after the last PING it answered (pubPeer's lagProbe). Unlike Lag it
// counts a burst just written, before its PING can age: serve holds a
// backfill while live mail flows until a subscriber has read what the
// backfill published (internal/control's LagGate). Subscribers that
// have not answered a PING are left out; ok is false when none answered.
func (p *ZMQPublisher) Behind() (n uint64, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for peer := range p.peers {
		if b, answers := peer.lag.behind(); answers {
			n, ok = max(n, b+uint64(max(peer.pending.Load(), 0))), true
		}
	}
	return n, ok
}

// Refused counts connections closed at once because MaxSubscribers were
// connected.
func (p *ZMQPublisher) Refused() uint64 { return p.refused.Load() }

// Sent counts messages queued for subscribers (one per subscriber).
func (p *ZMQPublisher) Sent() uint64 { return p.sent.Load() }

// Subscribers returns how many connected peers have at least one
// subscription.
func (p *ZMQPublisher) Subscribers() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for peer := range p.peers {
		if len(*peer.subs.Load()) > 0 {
			n++
		}
	}
	return n
}

// WaitSubscribers waits until at least n peers have subscribed, or ctx
// ends. It is the deterministic form of fedmsg's post_init_sleep.
func (p *ZMQPublisher) WaitSubscribers(ctx context.Context, n int) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for p.Subscribers() < n {
		select {
		case <-ctx.Done():
			return fmt.Errorf("bus: waiting for %d subscribers (have %d): %w", n, p.Subscribers(), ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// Close stops accepting, waits up to Linger for the queues to drain, then
// disconnects every subscriber. It is safe to call more than once.
func (p *ZMQPublisher) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	if p.stop != nil {
		p.stop()
	}
	for _, ln := range p.lns {
		ln.Close()
	}
	for conn := range p.greeting {
		conn.Close()
	}
	p.mu.Unlock()
	deadline := time.Now().Add(p.Linger)
	for time.Now().Before(deadline) && !p.drained() {
		time.Sleep(2 * time.Millisecond)
	}
	p.mu.Lock()
	for peer := range p.peers {
		peer.close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return nil
}

// drained reports whether every subscriber's queue is empty and flushed.
func (p *ZMQPublisher) drained() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for peer := range p.peers {
		if peer.pending.Load() > 0 {
			return false
		}
	}
	return true
}

func (p *ZMQPublisher) accept(ln net.Listener) {
	defer p.wg.Done()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// EMFILE and the like: keep the socket alive and retry.
			p.log.Warn("zmq: accept failed", "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		p.wg.Add(1)
		go p.serve(conn)
	}
}

// serve runs one subscriber connection: handshake, then a reader for its
// subscriptions here and a writer goroutine for its queue.
func (p *ZMQPublisher) serve(conn net.Conn) {
	defer p.wg.Done()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		conn.Close()
		return
	}
	if p.MaxSubscribers > 0 && len(p.peers)+len(p.greeting) >= p.MaxSubscribers {
		p.mu.Unlock()
		p.refused.Add(1)
		p.log.Debug("zmq: too many subscribers, connection closed", "peer", conn.RemoteAddr().String(), "max", p.MaxSubscribers)
		conn.Close()
		return
	}
	p.greeting[conn] = struct{}{} // so that Close can cut a slow handshake
	p.mu.Unlock()
	r, err := handshake(conn, zmtp.Pub, true)
	p.mu.Lock()
	delete(p.greeting, conn)
	if err != nil || p.closed {
		p.mu.Unlock()
		conn.Close()
		if err != nil {
			p.log.Debug("zmq: handshake failed", "peer", conn.RemoteAddr().String(), "err", err)
		}
		return
	}
	peer := newPubPeer(conn, r, p.hwm)
	p.peers[peer] = struct{}{}
	p.mu.Unlock()
	p.log.Debug("zmq: subscriber connected", "peer", conn.RemoteAddr().String())

	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		peer.write()
	}()
	peer.read()
	peer.close()
	p.mu.Lock()
	delete(p.peers, peer)
	p.mu.Unlock()
	p.log.Debug("zmq: subscriber gone", "peer", conn.RemoteAddr().String())
}

var _ Publisher = (*ZMQPublisher)(nil)
