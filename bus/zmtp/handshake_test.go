package zmtp

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// peerBytes is a peer's handshake: greeting g, then command frames.
func peerBytes(g []byte, cmds ...[]byte) []byte {
	out := append([]byte(nil), g...)
	for _, c := range cmds {
		out = append(out, c...)
	}
	return out
}

func TestReadHandshake(t *testing.T) {
	good := Greeting(true)
	v2 := Greeting(false)
	v2[10] = 2
	plain := Greeting(false)
	copy(plain[12:32], "PLAIN")
	noSig := Greeting(false)
	noSig[9] = 0
	ready := func(props ...[]byte) []byte {
		var data []byte
		for _, p := range props {
			data = append(data, p...)
		}
		return AppendCommand(nil, CmdReady, data)
	}
	pub := AppendProperty(nil, "Socket-Type", []byte("PUB"))
	hugeReady := binary.BigEndian.AppendUint64([]byte{FlagCommand | FlagLong}, 0x10_0000_0000)
	badLen := append([]byte{11}, "Socket-Type"...)
	badLen = binary.BigEndian.AppendUint32(badLen, 1<<31)
	for name, c := range map[string]struct {
		raw  []byte
		want string
	}{
		"http":           {[]byte("GET / HTTP/1.0\r\n\r\n" + strings.Repeat("x", 80)), "not a ZMTP 3 peer"},
		"ZMTP 2":         {peerBytes(v2, ready(pub)), "ZMTP 2.x"},
		"PLAIN":          {peerBytes(plain, ready(pub)), `"PLAIN"`},
		"no signature":   {peerBytes(noSig, ready(pub)), "not a ZMTP 3 peer"},
		"short greeting": {good[:30], "unexpected EOF"},
		"nothing":        {nil, "EOF"},
		"no READY":       {good, "EOF"},
		"message first":  {peerBytes(good, EncodeMessage([]byte("hi"))), "message before READY"},
		"other command":  {peerBytes(good, AppendCommand(nil, "HELLO", nil)), `"HELLO" instead of READY`},
		"ERROR":          {peerBytes(good, AppendCommand(nil, CmdError, append([]byte{4}, "nope"...))), `refused the connection: "nope"`},
		"no type":        {peerBytes(good, ready(AppendProperty(nil, "Identity", []byte("x")))), "without Socket-Type"},
		"wrong type":     {peerBytes(good, ready(AppendProperty(nil, "Socket-Type", []byte("REQ")))), `cannot talk to a "REQ"`},
		"bad property":   {peerBytes(good, ready(badLen)), "longer than its command"},
		"empty name":     {peerBytes(good, ready([]byte{0, 0, 0, 0, 0})), "malformed property"},
		"cut property":   {peerBytes(good, ready([]byte{11, 'S'})), "malformed property"},
		"empty command":  {peerBytes(good, []byte{FlagCommand, 0}), "malformed command"},
		"huge READY":     {peerBytes(good, hugeReady), "over the size limit"},
		"READY cut":      {peerBytes(good, ready(pub)[:10]), "unexpected EOF"},
	} {
		var err error
		n := allocated(func() { _, err = ReadHandshake(reader(c.raw), Sub) })
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", name, err, c.want)
		}
		if n > 1<<20 {
			t.Errorf("%s: allocated %d bytes", name, n)
		}
	}
	p, err := ReadHandshake(reader(peerBytes(good, ready(AppendProperty(nil, "identity", []byte("me")), AppendProperty(nil, "socket-type", []byte("xpub"))))), Sub)
	if err != nil || p.Type != XPub || p.Properties["identity"] != "me" || p.Minor != 0 {
		t.Fatalf("good READY: %+v %v", p, err)
	}
}

func TestCompatible(t *testing.T) {
	for _, c := range []struct {
		a, b SocketType
		ok   bool
	}{
		{Pub, Sub, true}, {Sub, Pub, true}, {Sub, XPub, true}, {Pub, "sub", true},
		{Req, Rep, true}, {Rep, Req, true}, {Rep, Dealer, true}, {Req, Router, true},
		{Pub, Pub, false}, {Sub, Sub, false}, {Rep, Rep, false}, {Req, Req, false},
		{Pub, Req, false}, {Push, Pull, true}, {Pair, Pair, true}, {"BOGUS", Pub, false},
	} {
		if got := c.a.Compatible(c.b); got != c.ok {
			t.Errorf("%s with %s: %v, want %v", c.a, c.b, got, c.ok)
		}
	}
}

// pair returns the two ends of a loopback TCP connection.
func pair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		acc <- c
	}()
	a, err := Dial(t.Context(), EndpointOf(ln.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	b := <-acc
	if b == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// TestHandshakeOverTCP runs both ends of the handshake, then a message
// and a PING both ways; an incompatible pair fails on both sides.
func TestHandshakeOverTCP(t *testing.T) {
	a, b := pair(t)
	ra, rb := bufio.NewReader(a), bufio.NewReader(b)
	errc := make(chan error, 1)
	go func() {
		p, err := Handshake(b, rb, Pub, true, time.Minute)
		if err == nil && p.Type != Sub {
			err = errors.New("server saw " + string(p.Type))
		}
		if err == nil {
			_, err = b.Write(EncodeMessage([]byte("topic"), []byte("body")))
		}
		errc <- err
	}()
	p, err := Handshake(a, ra, Sub, false, time.Minute)
	if err != nil || p.Type != Pub {
		t.Fatalf("client: %+v %v", p, err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("server: %v", err)
	}
	frames, _, err := ReadMessage(ra, 100)
	if err != nil || string(frames[0]) != "topic" || string(frames[1]) != "body" {
		t.Fatalf("after the handshake: %q %v", frames, err)
	}

	c, d := pair(t)
	go func() { _, err := Handshake(d, bufio.NewReader(d), Pub, true, time.Minute); errc <- err }()
	if _, err := Handshake(c, bufio.NewReader(c), Pub, false, time.Minute); !errors.Is(err, ErrProtocol) {
		t.Fatalf("PUB to PUB: %v", err)
	}
	if err := <-errc; !errors.Is(err, ErrProtocol) {
		t.Fatalf("PUB to PUB, other side: %v", err)
	}
}

// TestHandshakeStall: a peer that sends half a greeting and stalls
// costs the timeout, then an error, never a hang.
func TestHandshakeStall(t *testing.T) {
	a, b := pair(t)
	go io.Copy(io.Discard, b)
	b.Write(Greeting(false)[:20])
	_, err := Handshake(a, bufio.NewReader(a), Sub, false, 50*time.Millisecond)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("stalled peer: %v", err)
	}
}

// TestHandshakeNotZMTP: a peer that sends a few bytes that are no ZMTP
// signature and waits is turned away at once, not at the timeout.
func TestHandshakeNotZMTP(t *testing.T) {
	a, b := pair(t)
	go io.Copy(io.Discard, b)
	b.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
	if _, err := Handshake(a, bufio.NewReader(a), Sub, false, time.Hour); !errors.Is(err, ErrProtocol) {
		t.Fatalf("HTTP peer: %v", err)
	}
}

func BenchmarkReadHandshake(b *testing.B) {
	raw := peerBytes(Greeting(true), ReadyCommand(Pub))
	br := bufio.NewReader(nil)
	rd := bytes.NewReader(nil)
	for b.Loop() {
		rd.Reset(raw)
		br.Reset(rd)
		if _, err := ReadHandshake(br, Sub); err != nil {
			b.Fatal(err)
		}
	}
}
