package bus

import (
	"bufio"
	"net"

	"github.com/debian/mailgw/bus/zmtp"
)

// The ZMTP wire protocol (greeting, READY, frames, endpoints) lives in
// bus/zmtp, shared with the replay endpoint; every length a peer
// announces is bounded there before anything is allocated.

// handshakeTimeout bounds the ZMTP greeting and READY exchange, so a peer
// that connects and says nothing cannot hold a goroutine for ever. A var
// so that a test can make it long.
var handshakeTimeout = zmtp.DefaultHandshakeTimeout

// handshake runs the ZMTP 3.0 NULL-mechanism greeting and READY exchange
// as a socket of type typ, checking that the peer's type fits ours. It
// returns the buffered reader to use for the rest of the connection.
func handshake(conn net.Conn, typ zmtp.SocketType, server bool) (*bufio.Reader, error) {
	r := newReader(conn)
	if typ == zmtp.Pub {
		// A publisher only reads subscriptions and commands: a small
		// buffer, since every subscriber, stuck ones included, keeps it.
		r = bufio.NewReaderSize(conn, 4<<10)
	}
	if _, err := zmtp.Handshake(conn, r, typ, server, handshakeTimeout); err != nil {
		return nil, err
	}
	return r, nil
}
