package bus

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/security/null"
)

// ZMTP 3.x frame flags (RFC 23).
const (
	flagMore = 0x01
	flagLong = 0x02
	flagCmd  = 0x04
)

// handshakeTimeout bounds the ZMTP greeting and READY exchange, so a peer
// that connects and says nothing cannot hold a goroutine for ever. A var
// so that a test can make it long.
var handshakeTimeout = 10 * time.Second

// errTooBig is returned when a peer announces a message over the limit.
var errTooBig = errors.New("zmq: message over the size limit")

// appendFrame appends one ZMTP frame (header and body) to b.
func appendFrame(b []byte, flags byte, body []byte) []byte {
	if len(body) > 255 {
		b = append(b, flags|flagLong)
		b = binary.BigEndian.AppendUint64(b, uint64(len(body)))
	} else {
		b = append(b, flags, byte(len(body)))
	}
	return append(b, body...)
}

// encodeMessage returns the wire bytes of the two-frame message
// [topic, body], ready to be written to any number of peers.
func encodeMessage(topic string, body []byte) []byte {
	b := make([]byte, 0, len(topic)+len(body)+18)
	b = appendFrame(b, flagMore, []byte(topic))
	return appendFrame(b, 0, body)
}

// encodeCommand returns one ZMTP command frame (name and data).
func encodeCommand(name string, data []byte) []byte {
	body := make([]byte, 0, 1+len(name)+len(data))
	body = append(body, byte(len(name)))
	body = append(body, name...)
	body = append(body, data...)
	return appendFrame(nil, flagCmd, body)
}

// frameReader reads whole ZMTP messages (all frames) from a connection,
// refusing any message whose frames add up to more than max bytes.
type frameReader struct {
	r   *bufio.Reader
	max int
}

// readMessage returns the frames of the next message and whether it is a
// command. The frames are freshly allocated and owned by the caller.
func (fr *frameReader) readMessage() (frames [][]byte, cmd bool, err error) {
	total := 0
	for {
		flags, err := fr.r.ReadByte()
		if err != nil {
			return nil, false, err
		}
		var size uint64
		if flags&flagLong != 0 {
			var hdr [8]byte
			if _, err := io.ReadFull(fr.r, hdr[:]); err != nil {
				return nil, false, err
			}
			size = binary.BigEndian.Uint64(hdr[:])
		} else {
			b, err := fr.r.ReadByte()
			if err != nil {
				return nil, false, err
			}
			size = uint64(b)
		}
		if size > uint64(fr.max-total) {
			return nil, false, errTooBig
		}
		total += int(size)
		body := make([]byte, size)
		if _, err := io.ReadFull(fr.r, body); err != nil {
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

// parseCommand splits a command frame into its name and data.
func parseCommand(frame []byte) (name string, data []byte, ok bool) {
	if len(frame) < 1 || int(frame[0]) > len(frame)-1 {
		return "", nil, false
	}
	n := int(frame[0])
	return string(frame[1 : 1+n]), frame[1+n:], true
}

// handshake runs the ZMTP 3.0 greeting and NULL-mechanism READY exchange
// through zmq4, checking that the peer's socket type fits ours.
func handshake(conn net.Conn, typ zmq4.SocketType, server bool) error {
	if err := conn.SetDeadline(time.Now().Add(handshakeTimeout)); err != nil {
		return err
	}
	if _, err := zmq4.Open(conn, null.Security(), typ, nil, server, nil); err != nil {
		return err
	}
	return conn.SetDeadline(time.Time{})
}

// splitEndpoint turns a ZeroMQ endpoint into a Go network and address:
// tcp://host:port (host "*" means every interface) or ipc:///path.
func splitEndpoint(ep string) (network, addr string, err error) {
	switch {
	case strings.HasPrefix(ep, "tcp://"):
		addr = strings.TrimPrefix(ep, "tcp://")
		host, port, err := net.SplitHostPort(addr)
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

// dialEndpoint connects to a ZeroMQ endpoint.
func dialEndpoint(ctx context.Context, ep string) (net.Conn, error) {
	network, addr, err := splitEndpoint(ep)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// endpointOf formats a listener's address back as a ZeroMQ endpoint.
func endpointOf(a net.Addr) string {
	if a.Network() == "unix" {
		return "ipc://" + a.String()
	}
	return "tcp://" + a.String()
}
