// Package zmtptest holds hostile ZMTP peers for tests: malformed
// greetings, wrong versions and mechanisms, frames announcing huge
// sizes, truncated frames, random bytes and peers that stall mid-way.
// The bus, replay endpoint and end-to-end tests throw them at live
// sockets and then check that the socket still serves real peers.
package zmtptest

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"time"

	"github.com/debian/mailgw/bus/zmtp"
)

// Case is one hostile peer: the bytes it sends after connecting, and
// whether it then keeps the connection open without sending more (a
// stall) instead of waiting for the other side to hang up.
type Case struct {
	Name  string
	Bytes []byte
	Stall bool
}

// Cases returns the hostile peers for a socket whose peers are of type
// peer (what the hostile side claims to be when it gets as far as READY).
func Cases(peer zmtp.SocketType) []Case {
	greet := zmtp.Greeting(false)
	ready := zmtp.ReadyCommand(peer)
	hs := cat(greet, ready) // a complete, valid handshake
	long := func(flags byte, size uint64, body ...byte) []byte {
		return append(binary.BigEndian.AppendUint64([]byte{flags | zmtp.FlagLong}, size), body...)
	}
	with := func(i int, b byte) []byte {
		g := append([]byte(nil), greet...)
		g[i] = b
		return g
	}
	curve := append([]byte(nil), greet...)
	copy(curve[12:32], "CURVE\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")
	rng := rand.New(rand.NewPCG(2, 3))
	random := make([]byte, 8192)
	for i := range random {
		random[i] = byte(rng.IntN(256))
	}
	return []Case{
		{"http request", []byte("GET / HTTP/1.0\r\nHost: x\r\n\r\n"), false},
		{"random bytes", random, false},
		{"zeros", make([]byte, 4096), false},
		{"bad signature", cat(with(0, 0x00), ready), false},
		{"bad signature end", cat(with(9, 0x00), ready), false},
		{"ZMTP 1.0 greeting", []byte{0x01, 0x00, 0x05, 0x01, 'h', 'e', 'l', 'l'}, false},
		{"ZMTP 2.0", cat(with(10, 2), ready), false},
		{"CURVE mechanism", cat(curve, ready), false},
		{"greeting cut", greet[:33], false},
		{"command size 0x7fff…", cat(greet, long(zmtp.FlagCommand, 0x7fffffffffffffff)), false},
		{"command size 64 GiB", cat(greet, long(zmtp.FlagCommand, 0x10_0000_0000)), false},
		{"command size 2^64-1", cat(greet, long(zmtp.FlagCommand, ^uint64(0))), false},
		{"command cut", cat(greet, []byte{zmtp.FlagCommand, 200, 5, 'R', 'E'}), false},
		{"message before READY", cat(greet, zmtp.EncodeMessage([]byte("hello"))), false},
		{"READY of a wrong type", cat(greet, zmtp.ReadyCommand("BOGUS")), false},
		{"READY without Socket-Type", cat(greet, zmtp.AppendCommand(nil, zmtp.CmdReady, nil)), false},
		{"READY with a lying property", cat(greet, zmtp.AppendCommand(nil, zmtp.CmdReady,
			binary.BigEndian.AppendUint32(append([]byte{11}, "Socket-Type"...), 0xffffffff))), false},
		{"ERROR command", cat(greet, zmtp.AppendCommand(nil, zmtp.CmdError, []byte("\x03bad"))), false},
		{"message size 0x7fff…", cat(hs, long(0, 0x7fffffffffffffff)), false},
		{"message size 64 GiB", cat(hs, long(zmtp.FlagMore, 0x10_0000_0000)), false},
		{"second frame 64 GiB", cat(hs, zmtp.AppendFrame(nil, zmtp.FlagMore, []byte("t")), long(0, 0x10_0000_0000)), false},
		{"command after READY 0x7fff…", cat(hs, long(zmtp.FlagCommand, 0x7fffffffffffffff)), false},
		{"frame cut", cat(hs, []byte{0x00, 0xff}, []byte("only a few bytes")), false},
		{"long frame cut", cat(hs, long(0, 60<<20), []byte("a little")), false},
		{"empty frames without end", cat(hs, repeat([]byte{zmtp.FlagMore, 0}, 100000)), false},
		{"random after READY", cat(hs, random), false},
		{"stall in the greeting", greet[:20], true},
		{"stall before READY", greet, true},
		{"stall in a frame", cat(hs, long(0, 1<<20), []byte("partial")), true},
	}
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func repeat(b []byte, n int) []byte {
	out := make([]byte, 0, len(b)*n)
	for range n {
		out = append(out, b...)
	}
	return out
}

// Throw connects to the ZeroMQ endpoint ep and plays c. For a case that
// does not stall it waits (up to ctx) for the other side to hang up,
// and returns nil when it did; a stalling case returns the open
// connection, which the caller closes when done.
func Throw(ctx context.Context, ep string, c Case) (net.Conn, error) {
	conn, err := zmtp.Dial(ctx, ep)
	if err != nil {
		return nil, err
	}
	if err := Play(ctx, conn, c); err != nil || !c.Stall {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// Play sends c on an established connection (either side: a hostile
// publisher plays it to the subscriber that dialled in). Unless c
// stalls, it then closes its sending side, so that a cut frame really
// ends, and reads and discards until the other side hangs up; it fails
// only when the other side has not hung up when ctx ends.
func Play(ctx context.Context, conn net.Conn, c Case) error {
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	// The other side may hang up before reading everything: a write
	// error is expected, and the read below tells whether it hung up.
	conn.Write(c.Bytes)
	if c.Stall {
		return nil
	}
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	io.Copy(io.Discard, conn)
	if ctx.Err() != nil {
		return errors.New("zmtptest: " + c.Name + ": the other side did not hang up")
	}
	return nil
}
