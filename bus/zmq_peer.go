package bus

import (
	"bufio"
	"net"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/go-zeromq/zmq4"
)

// maxSubscriptionBytes bounds what a subscriber may send the publisher in
// one message (subscriptions and commands are small).
const maxSubscriptionBytes = 64 << 10

// maxSubscriptions bounds the prefixes one subscriber may register.
const maxSubscriptions = 1024

// pubPeer is one connected subscriber of a ZMQPublisher.
type pubPeer struct {
	conn         net.Conn
	q            chan []byte // encoded messages, at most hwm
	ctl          chan []byte // commands to send (PONG)
	subs         atomic.Pointer[[]string]
	pending      atomic.Int64 // queued or unflushed messages
	pendingBytes atomic.Int64 // and their wire size
	done         chan struct{}
	once         sync.Once
}

func newPubPeer(conn net.Conn, hwm int) *pubPeer {
	pp := &pubPeer{conn: conn, q: make(chan []byte, hwm), ctl: make(chan []byte, 4), done: make(chan struct{})}
	pp.subs.Store(&[]string{})
	return pp
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

// write sends queued messages, batching up to 256 queued ones into one
// flush. A write error (peer gone) closes the peer.
func (pp *pubPeer) write() {
	defer pp.close()
	w := bufio.NewWriterSize(pp.conn, 128<<10)
	for {
		var k, n int64 // messages from q in this batch, and their bytes
		select {
		case <-pp.done:
			return
		case m := <-pp.q:
			k, n = 1, int64(len(m))
			if _, err := w.Write(m); err != nil {
				return
			}
		case m := <-pp.ctl:
			if _, err := w.Write(m); err != nil {
				return
			}
		}
		for more := true; more && k < 256; {
			select {
			case m := <-pp.q:
				k, n = k+1, n+int64(len(m))
				if _, err := w.Write(m); err != nil {
					return
				}
			default:
				more = false
			}
		}
		if err := w.Flush(); err != nil {
			return
		}
		pp.pendingBytes.Add(-n)
		pp.pending.Add(-k)
	}
}

// read handles what the subscriber sends: ZMTP 3.0 subscription messages
// (0x01 or 0x00 then the prefix), ZMTP 3.1 SUBSCRIBE/CANCEL commands and
// PING. It returns when the connection ends.
func (pp *pubPeer) read() {
	fr := frameReader{r: bufio.NewReader(pp.conn), max: maxSubscriptionBytes}
	for {
		frames, cmd, err := fr.readMessage()
		if err != nil {
			return
		}
		if cmd {
			name, data, ok := parseCommand(frames[0])
			if !ok {
				return
			}
			switch name {
			case zmq4.CmdSubscribe:
				pp.subscribe(true, string(data))
			case zmq4.CmdCancel:
				pp.subscribe(false, string(data))
			case zmq4.CmdPing:
				if len(data) >= 2 {
					select {
					case pp.ctl <- encodeCommand(zmq4.CmdPong, data[2:]):
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
