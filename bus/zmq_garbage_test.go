package bus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/debian/mailgw/bus/zmtp"
	"github.com/debian/mailgw/bus/zmtp/zmtptest"
)

// quietLog discards the drop warnings the garbage causes.
var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// maxGarbageAlloc bounds what the heap may hand out while a socket is fed
// every hostile case: far below one of the sizes the cases announce
// (64 GiB, 2^63), far above what reading their real bytes costs.
const maxGarbageAlloc = 256 << 20

// shortHandshake makes the handshake timeout short for one test, so that
// the stalling peers are cut quickly.
func shortHandshake(t *testing.T) {
	old := handshakeTimeout
	handshakeTimeout = 200 * time.Millisecond
	t.Cleanup(func() { handshakeTimeout = old })
}

// totalAlloc is the heap's running total of bytes allocated.
func totalAlloc() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}

// hungUp reports whether the other side of conn closes it (within a
// generous bound that only stops a broken test from hanging).
func hungUp(conn net.Conn) bool {
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	return !errors.As(err, &ne) || !ne.Timeout()
}

// TestZMQPublisherGarbage throws every hostile peer at a live publisher:
// it must hang up on each (cutting stalled handshakes), allocate nothing
// near the sizes they announce, and still serve a real subscriber.
func TestZMQPublisherGarbage(t *testing.T) {
	shortHandshake(t)
	p := newTestPub(t, 100)
	ep := p.Addrs()[0]
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	before := totalAlloc()
	var held []net.Conn
	for _, c := range zmtptest.Cases(zmtp.Sub) {
		conn, err := zmtptest.Throw(ctx, ep, c)
		if err != nil {
			t.Errorf("%s: %v", c.Name, err)
		}
		if conn == nil {
			continue
		}
		defer conn.Close()
		if c.Name == "stall in a frame" {
			held = append(held, conn) // handshaken: a quiet subscriber may stay
		} else if !hungUp(conn) {
			t.Errorf("%s: the publisher did not cut the stalled handshake", c.Name)
		}
	}
	if n := totalAlloc() - before; n > maxGarbageAlloc {
		t.Errorf("the publisher allocated %d MiB for the garbage", n>>20)
	}
	if len(held) != 1 || p.Subscribers() != 0 {
		t.Fatalf("%d held connections, %d subscribers; want 1 and 0", len(held), p.Subscribers())
	}
	handshakeTimeout = zmtp.DefaultHandshakeTimeout
	s := newTestSub(t, p.Addrs(), nil, SubOptions{})
	waitSubs(t, p, 1)
	if err := p.Publish(context.Background(), testEnv("after.garbage", 1, "ok")); err != nil {
		t.Fatal(err)
	}
	if m := next(t, s); m.Topic != "after.garbage" {
		t.Fatalf("after the garbage got %q", m.Topic)
	}
}

// TestSubscriberGarbage: a Subscriber connected to a hostile publisher
// and to a real one keeps delivering the real one's messages while the
// hostile one plays every case, hangs up on each one (cutting stalled
// handshakes) and allocates nothing near the sizes announced.
func TestSubscriberGarbage(t *testing.T) {
	shortHandshake(t)
	ln, err := zmtp.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p := newTestPub(t, 100)
	s := newTestSub(t, []string{zmtp.EndpointOf(ln.Addr()), p.Addrs()[0]}, nil,
		SubOptions{ReconnectIvl: 5 * time.Millisecond, ReconnectIvlMax: 20 * time.Millisecond, Logger: quietLog})
	waitSubs(t, p, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	before := totalAlloc()
	for i, c := range zmtptest.Cases(zmtp.Pub) {
		ln.(*net.TCPListener).SetDeadline(time.Now().Add(30 * time.Second))
		conn, err := ln.Accept()
		if err != nil {
			t.Fatalf("%s: the subscriber did not reconnect: %v", c.Name, err)
		}
		if err := zmtptest.Play(ctx, conn, c); err != nil {
			t.Errorf("%s: %v", c.Name, err)
		}
		if c.Stall && c.Name != "stall in a frame" && !hungUp(conn) {
			t.Errorf("%s: the subscriber did not cut the stalled handshake", c.Name)
		}
		conn.Close()
		topic := fmt.Sprint("real.", i)
		if err := p.Publish(context.Background(), testEnv(topic, i, c.Name)); err != nil {
			t.Fatal(err)
		}
		if m := next(t, s); m.Topic != topic {
			t.Fatalf("after %s got %q, want %q", c.Name, m.Topic, topic)
		}
	}
	if n := totalAlloc() - before; n > maxGarbageAlloc {
		t.Errorf("the subscriber allocated %d MiB for the garbage", n>>20)
	}
	if d := s.DropCounts()[DropSize]; d < 4 {
		t.Errorf("oversized messages counted: %d, want at least 4 (%v)", d, s.DropCounts())
	}
}
