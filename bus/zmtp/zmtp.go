// Package zmtp is mailgw's one implementation of the ZeroMQ wire protocol
// (ZMTP 3.0/3.1, RFC 23 and 37) with the NULL security mechanism: the
// greeting and READY handshake with a socket-type check, a bounded
// message reader, frame and command encoders, PING/PONG and endpoint
// helpers. The bus publisher and subscriber and the replay endpoint all
// speak ZMTP through it.
//
// Everything a peer sends is untrusted: every length read from the wire is
// checked against a bound before anything is allocated, and a large frame
// is allocated as its bytes arrive, so that a peer announcing a 64 GiB
// frame and sending ten bytes costs ten bytes, not a crash.
package zmtp

import (
	"errors"
	"strings"
	"time"
)

// Frame flag bits (RFC 23, section "Framing").
const (
	FlagMore    = 0x01 // more frames follow in this message
	FlagLong    = 0x02 // the size is 8 bytes, not 1
	FlagCommand = 0x04 // a command frame, not a message frame
)

// Command names used by mailgw's sockets.
const (
	CmdReady     = "READY"
	CmdError     = "ERROR"
	CmdPing      = "PING"
	CmdPong      = "PONG"
	CmdSubscribe = "SUBSCRIBE"
	CmdCancel    = "CANCEL"
)

// DefaultHandshakeTimeout bounds the greeting and READY exchange, so that
// a peer that connects and stalls cannot hold a goroutine for ever.
const DefaultHandshakeTimeout = 10 * time.Second

// MaxCommandBytes bounds a command frame read during the handshake
// (READY with its properties, or ERROR).
const MaxCommandBytes = 16 << 10

// MaxFrames bounds the number of frames in one message, so that a peer
// sending empty frames for ever cannot grow the frame list without limit.
const MaxFrames = 1 << 16

// ErrTooBig is returned when a message is over the reader's byte bound
// or has more than MaxFrames frames; nothing of its size was allocated.
var ErrTooBig = errors.New("zmtp: message over the size limit")

// ErrProtocol is wrapped by every error for bytes that are not ZMTP 3.x
// with the NULL mechanism, or not what the socket types allow.
var ErrProtocol = errors.New("zmtp: protocol error")

// SocketType is a ZeroMQ socket type as named in the READY command.
type SocketType string

// The socket types of RFC 23 and RFC 28.
const (
	Pair   SocketType = "PAIR"
	Pub    SocketType = "PUB"
	Sub    SocketType = "SUB"
	XPub   SocketType = "XPUB"
	XSub   SocketType = "XSUB"
	Req    SocketType = "REQ"
	Rep    SocketType = "REP"
	Dealer SocketType = "DEALER"
	Router SocketType = "ROUTER"
	Push   SocketType = "PUSH"
	Pull   SocketType = "PULL"
)

// compatible lists, for each socket type, the peer types it may talk to.
var compatible = map[SocketType][]SocketType{
	Pair:   {Pair},
	Pub:    {Sub, XSub},
	Sub:    {Pub, XPub},
	XPub:   {Sub, XSub},
	XSub:   {Pub, XPub},
	Req:    {Rep, Router},
	Rep:    {Req, Dealer},
	Dealer: {Rep, Dealer, Router},
	Router: {Req, Dealer, Router},
	Push:   {Pull},
	Pull:   {Push},
}

// Compatible reports whether a socket of type t may talk to a peer of
// type peer (compared without regard to case).
func (t SocketType) Compatible(peer SocketType) bool {
	p := SocketType(strings.ToUpper(string(peer)))
	for _, ok := range compatible[t] {
		if ok == p {
			return true
		}
	}
	return false
}
