package bus

import (
	"bufio"
	"net"
	"strings"
	"sync"
	"sync/atomic"

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
	done         chan struct{}
	once         sync.Once
}

func newPubPeer(conn net.Conn, r *bufio.Reader, hwm int) *pubPeer {
	pp := &pubPeer{conn: conn, r: r, q: newPeerQueue(hwm), ctl: make(chan []byte, 4), done: make(chan struct{})}
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

// write sends queued messages, up to 256 queued ones in one writev(2)
// (net.Buffers): no copy into a per-subscriber buffer, whose 128 KiB were
// most of the memory a stuck subscriber cost (a subscriber that stops
// reading holds its writer in the write, with the buffer full). A write
// error (peer gone) closes the peer.
func (pp *pubPeer) write() {
	defer pp.close()
	var batch [][]byte
	for {
		select {
		case <-pp.done:
			return
		case <-pp.q.ready:
			batch = pp.q.take(batch, 256)
			var n int64
			for _, m := range batch {
				n += int64(len(m))
			}
			bufs := net.Buffers(batch) // WriteTo consumes its own copy
			if _, err := bufs.WriteTo(pp.conn); err != nil {
				return
			}
			pp.pendingBytes.Add(-n)
			pp.pending.Add(-int64(len(batch)))
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
