package bus

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/debian/mailgw/bus/zmtp"
)

// TestZMQMaxSubscribers: beyond MaxSubscribers a connection is closed at
// once and counted in Refused; a place freed by a departing subscriber is
// taken by the next one.
func TestZMQMaxSubscribers(t *testing.T) {
	p := newTestPub(t, 100)
	p.MaxSubscribers = 2
	ep := p.Addrs()[0]
	c1, _ := stuckSubscriber(t, ep)
	stuckSubscriber(t, ep)
	waitExactSubs(t, p, 2)
	c3, err := zmtp.Dial(context.Background(), ep)
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	c3.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(c3); err != nil {
		t.Fatalf("third connection: %v, want it closed by the publisher", err)
	}
	if got := p.Refused(); got != 1 {
		t.Errorf("Refused() = %d, want 1", got)
	}
	c1.Close()
	waitExactSubs(t, p, 1)
	s := newTestSub(t, []string{ep}, nil, SubOptions{})
	waitExactSubs(t, p, 2)
	if err := p.Publish(context.Background(), testEnv("org.debian.dev.x", 1, "y")); err != nil {
		t.Fatal(err)
	}
	if m := next(t, s); m.Topic != "org.debian.dev.x" {
		t.Fatalf("got %q", m.Topic)
	}
}
