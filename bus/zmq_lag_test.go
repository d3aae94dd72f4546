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
	for i := 1; i <= 2000; i++ {
		if _, err := sub.Next(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for {
		if lag, _ := p.Lag(); lag == 0 {
			break
		}
		if time.Now().After(deadline) {
			lag, _ := p.Lag()
			t.Fatalf("lag stays %v after the subscriber read everything", lag)
		}
		time.Sleep(time.Millisecond)
	}
}
