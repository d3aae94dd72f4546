package zmtp

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// GreetingSize is the length of a ZMTP 3.x greeting.
const GreetingSize = 64

// Greeting returns the 64-byte ZMTP 3.0 greeting for the NULL mechanism
// (3.0 so that libzmq peers keep sending subscriptions as messages, which
// every version understands). server is the as-server bit, unused by NULL.
func Greeting(server bool) []byte {
	g := make([]byte, GreetingSize)
	g[0], g[9] = 0xff, 0x7f
	g[10], g[11] = 3, 0
	copy(g[12:32], "NULL")
	if server {
		g[32] = 1
	}
	return g
}

// CheckGreeting validates a peer's 64-byte greeting: the signature,
// version 3 or later and the NULL mechanism. It returns the peer's minor
// version.
func CheckGreeting(g []byte) (minor byte, err error) {
	if len(g) != GreetingSize {
		return 0, fmt.Errorf("%w: greeting of %d bytes", ErrProtocol, len(g))
	}
	if g[0] != 0xff || g[9]&0x01 == 0 {
		return 0, fmt.Errorf("%w: not a ZMTP 3 peer (signature % x)", ErrProtocol, g[:10])
	}
	if g[10] < 3 {
		return 0, fmt.Errorf("%w: peer speaks ZMTP %d.%d, want 3.x", ErrProtocol, g[10], g[11])
	}
	if mech := string(bytes.TrimRight(g[12:32], "\x00")); mech != "NULL" {
		return 0, fmt.Errorf("%w: peer wants security mechanism %q, only NULL is supported", ErrProtocol, mech)
	}
	return g[11], nil
}

// AppendProperty appends one READY/metadata property (name, value) to b.
func AppendProperty(b []byte, name string, value []byte) []byte {
	b = append(b, byte(len(name)))
	b = append(b, name...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(value)))
	return append(b, value...)
}

// ReadyCommand returns the READY command frame announcing socket type t.
func ReadyCommand(t SocketType) []byte {
	return AppendCommand(nil, CmdReady, AppendProperty(nil, "Socket-Type", []byte(t)))
}

// ParseProperties decodes READY metadata: a sequence of name (1-byte
// length) and value (4-byte length) pairs. Names are returned as sent;
// a truncated or empty name is an error.
func ParseProperties(data []byte) (map[string]string, error) {
	props := map[string]string{}
	for len(data) > 0 {
		n := int(data[0])
		if n == 0 || len(data) < 1+n+4 {
			return nil, fmt.Errorf("%w: malformed property", ErrProtocol)
		}
		name := string(data[1 : 1+n])
		vlen := binary.BigEndian.Uint32(data[1+n:])
		data = data[1+n+4:]
		if uint64(vlen) > uint64(len(data)) {
			return nil, fmt.Errorf("%w: property %q longer than its command", ErrProtocol, name)
		}
		props[name] = string(data[:vlen])
		data = data[vlen:]
	}
	return props, nil
}

// Property looks a property up by name, without regard to case (RFC 23).
func Property(props map[string]string, name string) (string, bool) {
	for k, v := range props {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

// Peer is what the handshake learned about the other side.
type Peer struct {
	Minor      byte              // ZMTP minor version from the greeting (0 or 1)
	Type       SocketType        // its Socket-Type
	Properties map[string]string // all its READY properties
}

// Handshake runs the greeting and READY exchange on conn as a socket of
// type t and checks that the peer's type is compatible. It reads through
// r, which must wrap conn and be used for the rest of the connection.
// With timeout > 0 the exchange must finish within it (the deadline is
// cleared after); with 0 the connection's own deadlines apply.
func Handshake(conn net.Conn, r *bufio.Reader, t SocketType, server bool, timeout time.Duration) (Peer, error) {
	if timeout > 0 {
		if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
			return Peer{}, err
		}
	}
	if _, err := conn.Write(append(Greeting(server), ReadyCommand(t)...)); err != nil {
		return Peer{}, fmt.Errorf("zmtp: send greeting: %w", err)
	}
	peer, err := ReadHandshake(r, t)
	if err != nil {
		return Peer{}, err
	}
	if timeout > 0 {
		return peer, conn.SetDeadline(time.Time{})
	}
	return peer, nil
}

// ReadHandshake reads and checks the peer's side of the handshake (its
// greeting and READY) for a socket of type t. It allocates at most
// MaxCommandBytes whatever the input.
func ReadHandshake(r *bufio.Reader, t SocketType) (Peer, error) {
	// The signature (10 bytes) and the version are checked as soon as
	// they arrive, so that a peer that is no ZMTP 3 peer at all, waiting
	// for an answer, is turned away at once rather than at the timeout.
	var g [GreetingSize]byte
	got := 0
	for _, n := range []int{10, 11, GreetingSize} {
		if _, err := io.ReadFull(r, g[got:n]); err != nil {
			return Peer{}, fmt.Errorf("zmtp: read greeting: %w", err)
		}
		if g[0] != 0xff || g[9]&0x01 == 0 {
			return Peer{}, fmt.Errorf("%w: not a ZMTP 3 peer (signature % x)", ErrProtocol, g[:10])
		}
		if n > 10 && g[10] < 3 {
			return Peer{}, fmt.Errorf("%w: peer speaks ZMTP %d.x, want 3.x", ErrProtocol, g[10])
		}
		got = n
	}
	minor, err := CheckGreeting(g[:])
	if err != nil {
		return Peer{}, err
	}
	frames, cmd, err := ReadMessage(r, MaxCommandBytes)
	if err != nil {
		return Peer{}, fmt.Errorf("zmtp: read READY: %w", err)
	}
	if !cmd {
		return Peer{}, fmt.Errorf("%w: peer sent a message before READY", ErrProtocol)
	}
	name, data, ok := ParseCommand(frames[0])
	switch {
	case !ok:
		return Peer{}, fmt.Errorf("%w: malformed command instead of READY", ErrProtocol)
	case name == CmdError:
		reason := data
		if len(reason) > 0 && int(reason[0]) <= len(reason)-1 {
			reason = reason[1 : 1+int(reason[0])]
		}
		return Peer{}, fmt.Errorf("%w: peer refused the connection: %q", ErrProtocol, reason)
	case name != CmdReady:
		return Peer{}, fmt.Errorf("%w: peer sent %q instead of READY", ErrProtocol, name)
	}
	props, err := ParseProperties(data)
	if err != nil {
		return Peer{}, err
	}
	typ, ok := Property(props, "Socket-Type")
	if !ok {
		return Peer{}, fmt.Errorf("%w: READY without Socket-Type", ErrProtocol)
	}
	if !t.Compatible(SocketType(typ)) {
		return Peer{}, fmt.Errorf("%w: a %s socket cannot talk to a %q peer", ErrProtocol, t, typ)
	}
	return Peer{Minor: minor, Type: SocketType(strings.ToUpper(typ)), Properties: props}, nil
}
