package bus

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/debian/mailgw/bus/zmtp"
)

// SubOptions tunes Subscribe. The zero value is usable.
type SubOptions struct {
	// Verify, when set, is called on every well-formed envelope; an error
	// drops the message (counted as "invalid" and logged) and the
	// subscriber keeps running. It returns the signer's fingerprint.
	// tail wires it to (*Keyring).Verify with the configured policy.
	Verify func(env *Envelope) (signer string, err error)
	// Logger receives drop and connection logs; nil means slog.Default().
	Logger *slog.Logger
	// Buffer is the capacity of the message channel (default 1000).
	Buffer int
	// MaxMessageBytes bounds one received message (default 64 MiB); a
	// publisher that sends more is disconnected and the message counted.
	MaxMessageBytes int
	// ReconnectIvl and ReconnectIvlMax bound the wait between connection
	// attempts, doubling from the first to the second (fedmsg: 100 ms
	// and 1 s).
	ReconnectIvl, ReconnectIvlMax time.Duration
}

// Message is one envelope received from the bus.
type Message struct {
	Endpoint string    // the endpoint it came from
	Topic    string    // ZeroMQ frame 0, equal to Env.Topic
	Body     []byte    // frame 1 as received
	Env      *Envelope // the parsed body
	Signer   string    // fingerprint from SubOptions.Verify, "" without it
}

// Drop reasons counted by a Subscriber.
const (
	DropFrames  = "frames"  // not exactly two frames
	DropJSON    = "json"    // body is not a valid envelope
	DropTopic   = "topic"   // frame 0 differs from the envelope's topic
	DropInvalid = "invalid" // Verify rejected it
	DropSize    = "size"    // over MaxMessageBytes
)

// Subscriber holds one ZeroMQ SUB connection per endpoint, reconnecting
// whenever a publisher goes away, and yields validated messages.
type Subscriber struct {
	opts   SubOptions
	topics []string
	log    *slog.Logger
	ch     chan Message
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	drops  dropCounter
}

// Subscribe connects one SUB per endpoint (tcp://host:port or ipc://path)
// with the given topic prefixes ("" or none means everything). It returns
// at once; connections are made, and remade, in the background until ctx
// ends or Close is called.
func Subscribe(ctx context.Context, endpoints []string, topics []string, opts SubOptions) (*Subscriber, error) {
	if len(endpoints) == 0 {
		return nil, errors.New("bus: no endpoint to subscribe to")
	}
	for _, ep := range endpoints {
		if _, _, err := zmtp.SplitEndpoint(ep); err != nil {
			return nil, err
		}
	}
	if len(topics) == 0 {
		topics = []string{""}
	}
	if opts.Buffer <= 0 {
		opts.Buffer = 1000
	}
	if opts.MaxMessageBytes <= 0 {
		opts.MaxMessageBytes = 64 << 20
	}
	if opts.ReconnectIvl <= 0 {
		opts.ReconnectIvl = 100 * time.Millisecond
	}
	if opts.ReconnectIvlMax < opts.ReconnectIvl {
		opts.ReconnectIvlMax = max(time.Second, opts.ReconnectIvl)
	}
	s := &Subscriber{opts: opts, topics: topics, log: opts.Logger, ch: make(chan Message, opts.Buffer)}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.ctx, s.cancel = context.WithCancel(ctx)
	for _, ep := range endpoints {
		s.wg.Add(1)
		go s.run(ep)
	}
	return s, nil
}

// C returns the channel of received messages. It is never closed; use
// Next to also learn when the subscriber has stopped.
func (s *Subscriber) C() <-chan Message { return s.ch }

// Next returns the next message, or ctx's error, or ErrClosed once the
// subscriber has been closed.
func (s *Subscriber) Next(ctx context.Context) (Message, error) {
	select {
	case m := <-s.ch:
		return m, nil
	case <-ctx.Done():
		return Message{}, ctx.Err()
	case <-s.ctx.Done():
		return Message{}, ErrClosed
	}
}

// Dropped returns how many received messages were dropped, all reasons.
func (s *Subscriber) Dropped() uint64 { return s.drops.total() }

// DropCounts returns the dropped messages by reason (Drop* constants).
func (s *Subscriber) DropCounts() map[string]uint64 { return s.drops.snapshot() }

// Close disconnects every SUB and waits for its goroutines.
func (s *Subscriber) Close() error {
	s.cancel()
	s.wg.Wait()
	return nil
}

// run keeps one endpoint connected until the subscriber stops.
func (s *Subscriber) run(ep string) {
	defer s.wg.Done()
	wait := s.opts.ReconnectIvl
	for s.ctx.Err() == nil {
		conn, err := zmtp.Dial(s.ctx, ep)
		if err == nil {
			s.log.Debug("zmq: connected", "endpoint", ep)
			if s.serve(ep, conn) {
				wait = s.opts.ReconnectIvl
			}
			s.log.Debug("zmq: disconnected", "endpoint", ep)
		} else {
			s.log.Debug("zmq: connect failed", "endpoint", ep, "err", err, "retry", wait)
		}
		select {
		case <-s.ctx.Done():
		case <-time.After(wait):
		}
		wait = min(2*wait, s.opts.ReconnectIvlMax)
	}
}

// serve handles one connection until it fails; it reports whether the
// handshake succeeded (so the reconnect back-off can restart).
func (s *Subscriber) serve(ep string, conn net.Conn) bool {
	stop := context.AfterFunc(s.ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	r, err := handshake(conn, zmtp.Sub, false)
	if err != nil {
		s.log.Debug("zmq: handshake failed", "endpoint", ep, "err", err)
		return false
	}
	var subs []byte
	for _, t := range s.topics {
		subs = zmtp.AppendFrame(subs, 0, append([]byte{1}, t...))
	}
	if _, err := conn.Write(subs); err != nil {
		return true
	}
	s.pump(ep, r, conn)
	return true
}

// check validates one message; it counts and logs what it drops.
func (s *Subscriber) check(ep string, frames [][]byte) (Message, bool) {
	if !s.wanted(string(frames[0])) {
		return Message{}, false // a PUB may send more than we asked for
	}
	if len(frames) != 2 {
		s.drop(ep, DropFrames, "want 2 frames", "frames", len(frames))
		return Message{}, false
	}
	topic := string(frames[0])
	env, err := ParseEnvelope(frames[1])
	if err != nil {
		s.drop(ep, DropJSON, err.Error(), "topic", topic)
		return Message{}, false
	}
	if env.Topic != topic {
		s.drop(ep, DropTopic, "frame 0 differs from envelope topic", "frame0", topic, "topic", env.Topic)
		return Message{}, false
	}
	m := Message{Endpoint: ep, Topic: topic, Body: frames[1], Env: env}
	if s.opts.Verify != nil {
		m.Signer, err = s.opts.Verify(env)
		if err != nil {
			s.drop(ep, DropInvalid, err.Error(), "topic", topic, "msg_id", env.MsgID)
			return Message{}, false
		}
	}
	return m, true
}

// wanted applies the SUB-side prefix filter, as libzmq does.
func (s *Subscriber) wanted(topic string) bool {
	for _, t := range s.topics {
		if strings.HasPrefix(topic, t) {
			return true
		}
	}
	return false
}

func (s *Subscriber) drop(ep, reason, msg string, args ...any) {
	s.drops.add(reason)
	s.log.Warn("bus: dropped message: "+msg, append([]any{"endpoint", ep, "reason", reason}, args...)...)
}
