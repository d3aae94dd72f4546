package bus

import (
	"bufio"
	"encoding/binary"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/debian/mailgw/bus/zmtp"
)

// maxSubscriptionBytes bounds what a subscriber may send the publisher in
// one message (subscriptions and commands are small).
const maxSubscriptionBytes = 64 << 10

// maxSubscriptions bounds the prefixes one subscriber may register.
const maxSubscriptions = 1024

// pubPeer is one connected subscriber of a ZMQPublisher.
type pubPeer struct {
	conn         net.Conn
	r            *bufio.Reader // conn's reader, from the handshake on
	q            *peerQueue    // encoded messages, at most hwm
	ctl          chan []byte   // commands to send (PONG)
	subs         atomic.Pointer[[]string]
	pending      atomic.Int64 // queued or unflushed messages
	pendingBytes atomic.Int64 // and their wire size
	busySince    atomic.Int64 // UnixNano: since when messages are pending (0: none)
	progress     atomic.Int64 // UnixNano: when the writer last completed a write of messages
	// The publisher's view of a full queue (ZMQPublisher.StallTimeout):
	// how long it waited for room since the queue was last empty
	// (nanoseconds), and whether the peer is stuck (no more waiting).
	// The writer resets both when the queue empties.
	waited  atomic.Int64
	stalled atomic.Bool
	drained chan struct{} // a token after each completed write
	done    chan struct{}
	once    sync.Once
	lag     lagProbe
}

// pingEvery is how often the writer follows what it wrote with a PING
// while messages flow: the lag probe's resolution.
const pingEvery = 5 * time.Millisecond

// lagProbe measures how far behind the stream a subscriber reads: the
// writer follows the messages it wrote with a ZMTP PING, and the
// subscriber answers with a PONG once it has read everything before the
// PING (RFC 37; libzmq and this package's Subscriber answer). The round
// trip is what a message written now waits in the kernel's socket
// buffers and the subscriber's reader, which no queue on this side
// shows: on a loopback connection a lagging subscriber's receive buffer
// alone held 5 MB of a backfill, ahead of live mail (issue 19).
type lagProbe struct {
	mu       sync.Mutex
	seq      uint64    // of the last PING sent
	sent     time.Time // of the PING awaiting its PONG; zero when none
	last     time.Time // of the last PING sent
	rtt      time.Duration
	answered bool // a PONG came: the peer answers PINGs
	owed     bool // messages were written after the last PING
	wrote    bool // messages were written after the last answered PING
	// out counts the messages written; at is out when the awaited PING
	// was sent, read what the last PONG confirmed read: out-read
	// messages are unread or unconfirmed (behind).
	out, at, read uint64
}

// ping returns a PING to send after the wrote messages just written,
// or nil when none is owed, one awaits its PONG or the last went out
// less than pingEvery ago; first says a PING is owed still.
func (l *lagProbe) ping(now time.Time, wrote int) (ping []byte, owed bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if wrote > 0 {
		l.owed, l.wrote = true, true
		l.out += uint64(wrote)
	}
	if !l.owed || !l.sent.IsZero() || now.Sub(l.last) < pingEvery {
		return nil, l.owed
	}
	l.seq++
	l.sent, l.last, l.owed, l.at = now, now, false, l.out
	data := make([]byte, 2, 10) // TTL 0: none
	data = binary.BigEndian.AppendUint64(data, l.seq)
	return zmtp.AppendCommand(nil, zmtp.CmdPing, data), false
}

// pong takes a PONG's context.
func (l *lagProbe) pong(now time.Time, ctx []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(ctx) != 8 || l.sent.IsZero() || binary.BigEndian.Uint64(ctx) != l.seq {
		return
	}
	l.rtt = now.Sub(l.sent)
	l.sent = time.Time{}
	l.read = l.at
	l.answered = true
	l.wrote = l.owed
}

// get returns the subscriber's lag, and false while it has not answered
// a PING: while a PING waits, at least its age; after the PONG, the round
// trip if messages were written since, else 0.
func (l *lagProbe) get(now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case !l.answered:
		return 0, false
	case !l.sent.IsZero():
		return max(l.rtt, now.Sub(l.sent)), true
	case l.wrote:
		return l.rtt, true
	}
	return 0, true
}

// behind returns how many written messages the subscriber has not yet
// confirmed reading (by a PONG), and false while it has not answered a
// PING.
func (l *lagProbe) behind() (uint64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.out - l.read, l.answered
}

func newPubPeer(conn net.Conn, r *bufio.Reader, hwm int) *pubPeer {
	pp := &pubPeer{conn: conn, r: r, q: newPeerQueue(hwm), ctl: make(chan []byte, 4), done: make(chan struct{}),
		drained: make(chan struct{}, 1)}
	pp.subs.Store(&[]string{})
	pp.progress.Store(time.Now().UnixNano())
	return pp
}

// offer queues the encoded message wire unless the queue holds its hwm
// messages or wire would take it over maxBytes; it never blocks.
func (pp *pubPeer) offer(wire []byte, maxBytes int64) bool {
	size := int64(len(wire))
	if pp.pendingBytes.Load()+size > maxBytes {
		return false
	}
	// Counted before the push, so that the writer never takes a
	// message whose bytes are not yet pending.
	if pp.pending.Add(1) == 1 {
		pp.busySince.Store(time.Now().UnixNano())
	}
	pp.pendingBytes.Add(size)
	if pp.q.push(wire) {
		return true
	}
	if pp.pending.Add(-1) == 0 {
		pp.busySince.Store(0)
	}
	pp.pendingBytes.Add(-size)
	return false
}

// lastProgress returns when the peer last showed it drains: its last
// completed write, or when messages became pending, the later.
func (pp *pubPeer) lastProgress() time.Time {
	return time.Unix(0, max(pp.progress.Load(), pp.busySince.Load()))
}

// pendingAge returns how long messages have been pending: queued or
// being written (0 when none are).
func (pp *pubPeer) pendingAge(now time.Time) time.Duration {
	t := pp.busySince.Load()
	if t == 0 {
		return 0
	}
	return max(0, now.Sub(time.Unix(0, t)))
}

// matches reports whether topic starts with one of the peer's prefixes.
func (pp *pubPeer) matches(topic string) bool {
	for _, s := range *pp.subs.Load() {
		if strings.HasPrefix(topic, s) {
			return true
		}
	}
	return false
}

// close disconnects the peer; both its goroutines then return.
func (pp *pubPeer) close() {
	pp.once.Do(func() {
		close(pp.done)
		pp.conn.Close()
	})
}

// writeBatchBytes bounds the bytes of one writev (after the first
// message): a subscriber that drains shows it by completing writes well
// within the publisher's StallTimeout, also when it reads slowly.
const writeBatchBytes = 1 << 20

// write sends queued messages, up to 256 queued ones (writeBatchBytes) in one writev(2)
// (net.Buffers): no copy into a per-subscriber buffer, whose 128 KiB were
// most of the memory a stuck subscriber cost (a subscriber that stops
// reading holds its writer in the write, with the buffer full). A write
// error (peer gone) closes the peer.
func (pp *pubPeer) write() {
	defer pp.close()
	var batch [][]byte
	// owe fires while a PING is owed for messages written: the queue
	// may stay empty meanwhile.
	var owe <-chan time.Time
	for {
		select {
		case <-pp.done:
			return
		case <-owe:
			ping, owed := pp.lag.ping(time.Now(), 0)
			if ping != nil {
				if _, err := pp.conn.Write(ping); err != nil {
					return
				}
			}
			if owe = nil; owed {
				owe = time.After(pingEvery)
			}
		case <-pp.q.ready:
			batch = pp.q.take(batch, 256, writeBatchBytes)
			var n int64
			for _, m := range batch {
				n += int64(len(m))
			}
			ping, owed := pp.lag.ping(time.Now(), len(batch))
			extra := 0
			if ping != nil {
				batch, extra = append(batch, ping), 1
			}
			if owed && owe == nil {
				owe = time.After(pingEvery)
			}
			bufs := net.Buffers(batch) // WriteTo consumes its own copy
			if _, err := bufs.WriteTo(pp.conn); err != nil {
				return
			}
			pp.progress.Store(time.Now().UnixNano())
			pp.pendingBytes.Add(-n)
			if pp.pending.Add(-int64(len(batch)-extra)) == 0 {
				pp.busySince.Store(0)
				pp.waited.Store(0)
				pp.stalled.Store(false)
			}
			select {
			case pp.drained <- struct{}{}:
			default:
			}
		case m := <-pp.ctl:
			if _, err := pp.conn.Write(m); err != nil {
				return
			}
		}
	}
}

// read handles what the subscriber sends: ZMTP 3.0 subscription messages
// (0x01 or 0x00 then the prefix), ZMTP 3.1 SUBSCRIBE/CANCEL commands and
// PING. It returns when the connection ends.
func (pp *pubPeer) read() {
	for {
		frames, cmd, err := zmtp.ReadMessage(pp.r, maxSubscriptionBytes)
		if err != nil {
			return
		}
		if cmd {
			name, data, ok := zmtp.ParseCommand(frames[0])
			if !ok {
				return
			}
			switch name {
			case zmtp.CmdSubscribe:
				pp.subscribe(true, string(data))
			case zmtp.CmdCancel:
				pp.subscribe(false, string(data))
			case zmtp.CmdPong:
				pp.lag.pong(time.Now(), data)
			case zmtp.CmdPing:
				if pong, ok := zmtp.Pong(data); ok {
					select {
					case pp.ctl <- pong:
					default:
					}
				}
			}
			continue
		}
		if len(frames) == 1 && len(frames[0]) > 0 && frames[0][0] <= 1 {
			pp.subscribe(frames[0][0] == 1, string(frames[0][1:]))
		}
	}
}

// subscribe adds or removes one prefix. Like libzmq, prefixes are counted:
// subscribing twice needs two cancels.
func (pp *pubPeer) subscribe(add bool, prefix string) {
	old := *pp.subs.Load()
	next := make([]string, 0, len(old)+1)
	if add {
		if len(old) >= maxSubscriptions {
			return
		}
		next = append(append(next, old...), prefix)
	} else {
		removed := false
		for _, s := range old {
			if !removed && s == prefix {
				removed = true
				continue
			}
			next = append(next, s)
		}
	}
	pp.subs.Store(&next)
}
