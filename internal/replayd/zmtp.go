package replayd

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/go-zeromq/zmq4"
)

// The ZMTP 3.0 layer (RFC 23/ZMTP, NULL mechanism) of the REQ/REP sockets.
// It is written here rather than taken from zmq4.Open because zmq4 (v0.17.0)
// allocates whatever length a peer announces in a frame header before
// reading it, so one 10-byte packet to an open REP port could make the
// daemon allocate exabytes; every length read below is checked against a
// bound first. zmq4 still supplies the socket types and their
// compatibility table.

// ZMTP frame flags.
const (
	flagMore = 0x01
	flagLong = 0x02
	flagCmd  = 0x04
)

// handshakeTimeout bounds the greeting and READY exchange.
const handshakeTimeout = 10 * time.Second

// maxCommandBytes bounds a command frame (READY, PING) from a peer.
const maxCommandBytes = 4096

// errTooBig is returned for a message over the reader's bound.
var errTooBig = errors.New("zmtp: message over the size limit")

// greeting returns our 64-byte ZMTP 3.0 greeting with the NULL mechanism.
func greeting(server bool) []byte {
	g := make([]byte, 64)
	g[0], g[8], g[9] = 0xff, 0x01, 0x7f
	g[10], g[11] = 3, 0
	copy(g[12:32], "NULL")
	if server {
		g[32] = 1
	}
	return g
}

// readyCommand returns the READY command frame announcing typ.
func readyCommand(typ zmq4.SocketType) []byte {
	body := []byte("\x05READY")
	body = append(body, byte(len("Socket-Type")))
	body = append(body, "Socket-Type"...)
	body = binary.BigEndian.AppendUint32(body, uint32(len(typ)))
	body = append(body, typ...)
	return appendFrame(nil, flagCmd, body)
}

// handshake runs the greeting and READY exchange on conn as socket type
// typ and checks that the peer's type is compatible. It returns the
// buffered reader to use for the rest of the connection.
func handshake(conn net.Conn, typ zmq4.SocketType, server bool) (*bufio.Reader, error) {
	if err := conn.SetDeadline(time.Now().Add(handshakeTimeout)); err != nil {
		return nil, err
	}
	if _, err := conn.Write(append(greeting(server), readyCommand(typ)...)); err != nil {
		return nil, fmt.Errorf("zmtp: send greeting: %w", err)
	}
	r := bufio.NewReader(conn)
	var g [64]byte
	if _, err := io.ReadFull(r, g[:]); err != nil {
		return nil, fmt.Errorf("zmtp: read greeting: %w", err)
	}
	if g[0] != 0xff || g[9] != 0x7f {
		return nil, errors.New("zmtp: not a ZMTP peer")
	}
	if g[10] < 3 {
		return nil, fmt.Errorf("zmtp: peer speaks ZMTP %d.%d, want 3.x", g[10], g[11])
	}
	if mech := string(bytes.TrimRight(g[12:32], "\x00")); mech != "NULL" {
		return nil, fmt.Errorf("zmtp: peer wants security mechanism %q, only NULL is supported", mech)
	}
	frames, cmd, err := readMessage(r, maxCommandBytes)
	if err != nil {
		return nil, fmt.Errorf("zmtp: read READY: %w", err)
	}
	if !cmd {
		return nil, errors.New("zmtp: peer sent a message before READY")
	}
	name, data, ok := parseCommand(frames[0])
	if !ok || name != "READY" {
		return nil, fmt.Errorf("zmtp: peer sent %q instead of READY", name)
	}
	peer, ok := property(data, "Socket-Type")
	if !ok {
		return nil, errors.New("zmtp: READY without Socket-Type")
	}
	if !typ.IsCompatible(zmq4.SocketType(peer)) {
		return nil, fmt.Errorf("zmtp: a %s socket cannot talk to a %s peer", typ, peer)
	}
	return r, conn.SetDeadline(time.Time{})
}

// property finds a READY property by name (case-insensitive, RFC 23).
func property(data []byte, name string) (string, bool) {
	for len(data) > 0 {
		n := int(data[0])
		if len(data) < 1+n+4 {
			return "", false
		}
		key := string(data[1 : 1+n])
		vlen := binary.BigEndian.Uint32(data[1+n:])
		data = data[1+n+4:]
		if uint64(vlen) > uint64(len(data)) {
			return "", false
		}
		if strings.EqualFold(key, name) {
			return string(data[:vlen]), true
		}
		data = data[vlen:]
	}
	return "", false
}

// parseCommand splits a command frame into name and data.
func parseCommand(frame []byte) (string, []byte, bool) {
	if len(frame) < 1 || int(frame[0]) > len(frame)-1 {
		return "", nil, false
	}
	n := int(frame[0])
	return string(frame[1 : 1+n]), frame[1+n:], true
}

// appendFrame appends one frame (header and body) to b.
func appendFrame(b []byte, flags byte, body []byte) []byte {
	if len(body) > 255 {
		b = append(b, flags|flagLong)
		b = binary.BigEndian.AppendUint64(b, uint64(len(body)))
	} else {
		b = append(b, flags, byte(len(body)))
	}
	return append(b, body...)
}

// encodeMessage returns the wire form of a multi-frame message.
func encodeMessage(frames [][]byte) []byte {
	n := 0
	for _, f := range frames {
		n += len(f) + 9
	}
	b := make([]byte, 0, n)
	for i, f := range frames {
		var flags byte
		if i < len(frames)-1 {
			flags = flagMore
		}
		b = appendFrame(b, flags, f)
	}
	return b
}

// readMessage reads one whole message or command, refusing one whose
// frames add up to more than max bytes before allocating anything.
func readMessage(r *bufio.Reader, max int) (frames [][]byte, cmd bool, err error) {
	total := 0
	for {
		flags, err := r.ReadByte()
		if err != nil {
			return nil, false, err
		}
		var size uint64
		if flags&flagLong != 0 {
			var hdr [8]byte
			if _, err := io.ReadFull(r, hdr[:]); err != nil {
				return nil, false, err
			}
			size = binary.BigEndian.Uint64(hdr[:])
		} else {
			b, err := r.ReadByte()
			if err != nil {
				return nil, false, err
			}
			size = uint64(b)
		}
		if size > uint64(max-total) {
			return nil, false, errTooBig
		}
		total += int(size)
		body := make([]byte, size)
		if _, err := io.ReadFull(r, body); err != nil {
			return nil, false, err
		}
		frames = append(frames, body)
		if flags&flagCmd != 0 {
			return frames, true, nil
		}
		if flags&flagMore == 0 {
			return frames, false, nil
		}
	}
}

// splitEndpoint turns a ZeroMQ endpoint into a Go network and address:
// tcp://host:port (host "*" is every interface) or ipc:///path.
func splitEndpoint(ep string) (network, addr string, err error) {
	switch {
	case strings.HasPrefix(ep, "tcp://"):
		host, port, err := net.SplitHostPort(strings.TrimPrefix(ep, "tcp://"))
		if err != nil {
			return "", "", fmt.Errorf("endpoint %q: %w", ep, err)
		}
		if host == "*" {
			host = ""
		}
		return "tcp", net.JoinHostPort(host, port), nil
	case strings.HasPrefix(ep, "ipc://"):
		return "unix", strings.TrimPrefix(ep, "ipc://"), nil
	}
	return "", "", fmt.Errorf("endpoint %q: want tcp://host:port or ipc://path", ep)
}
