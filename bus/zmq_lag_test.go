package bus

import (
	"context"
	"testing"
	"time"
)

// TestZMQPublisherLag: a Subscriber answers the publisher's PINGs, so
// the publisher learns how far behind it reads: while its reader is held
// (a consumer that does not take from the channel, a buffer of 1), the
// lag grows with the PING's age; once it reads again, the lag is back
// to 0 when nothing more is written.
func TestZMQPublisherLag(t *testing.T) {
	p := newTestPub(t, 100000)
	if _, ok := p.Lag(); ok {
		t.Fatal("Lag ok without subscribers")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub, err := Subscribe(ctx, p.Addrs(), nil, SubOptions{Buffer: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	waitSubs(t, p, 1)
	p.Publish(ctx, testEnv("org.debian.dev.x.y", 0, "t"))
	if _, err := sub.Next(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, ok := p.Lag(); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the subscriber never answered a PING")
		}
		time.Sleep(time.Millisecond)
	}
	// Nobody reads now: the channel (1) and the pipeline fill up, and a
	// PING after them waits.
	for i := 1; i <= 2000; i++ {
		p.Publish(ctx, testEnv("org.debian.dev.x.y", i, "t"))
	}
	time.Sleep(300 * time.Millisecond)
	if lag, ok := p.Lag(); !ok || lag < 200*time.Millisecond {
		t.Fatalf("lag of a subscriber not reading for 300ms = %v, %v; want >= 200ms", lag, ok)
	}
	// Written or queued, none of the 2000 can be confirmed read: at most
	// the channel's one and the reader's pipeline took some.
	if n, ok := p.Behind(); !ok || n < 1000 {
		t.Fatalf("Behind of a subscriber not reading = %d, %v; want >= 1000", n, ok)
	}
	for i := 1; i <= 2000; i++ {
		if _, err := sub.Next(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for {
		lag, _ := p.Lag()
		if n, _ := p.Behind(); lag == 0 && n == 0 {
			break
		}
		if time.Now().After(deadline) {
			lag, _ := p.Lag()
			n, _ := p.Behind()
			t.Fatalf("lag stays %v, behind %d after the subscriber read everything", lag, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestLagProbeBehind: what was written counts as behind until a PONG
// answers a PING sent after it; a PONG to a PING sent before later
// writes leaves those behind.
func TestLagProbeBehind(t *testing.T) {
	var l lagProbe
	now := time.Now()
	if _, ok := l.behind(); ok {
		t.Fatal("behind ok before any PONG")
	}
	ping, _ := l.ping(now, 3)
	if ping == nil {
		t.Fatal("no PING after the first messages")
	}
	if p, _ := l.ping(now.Add(time.Millisecond), 2); p != nil {
		t.Fatal("a second PING while one awaits its PONG")
	}
	l.pong(now.Add(2*time.Millisecond), ping[len(ping)-8:])
	if n, ok := l.behind(); !ok || n != 2 {
		t.Fatalf("behind after the PONG of the first 3 of 5 = %d, %v; want 2, true", n, ok)
	}
	ping, _ = l.ping(now.Add(time.Second), 0) // owed for the 2
	if ping == nil {
		t.Fatal("no PING owed for the 2 written after the first")
	}
	l.pong(now.Add(time.Second+time.Millisecond), ping[len(ping)-8:])
	if n, _ := l.behind(); n != 0 {
		t.Fatalf("behind after every message was answered for = %d, want 0", n)
	}
}
