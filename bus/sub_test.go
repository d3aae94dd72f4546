package bus

import (
	"bytes"
	"context"
	"testing"
	"time"
)

// recvTimeout bounds every wait for a message so that a broken transport
// fails the test instead of hanging it; it is not a speed assertion.
const recvTimeout = 30 * time.Second

func next(t testing.TB, s *Subscriber) Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), recvTimeout)
	defer cancel()
	m, err := s.Next(ctx)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return m
}

func newTestSub(t testing.TB, eps, topics []string, opts SubOptions) *Subscriber {
	t.Helper()
	s, err := Subscribe(context.Background(), eps, topics, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSubscriberReconnects(t *testing.T) {
	p := newTestPub(t, 100)
	ep := p.Addrs()[0]
	s := newTestSub(t, []string{ep}, nil, SubOptions{ReconnectIvl: 10 * time.Millisecond, ReconnectIvlMax: 50 * time.Millisecond})
	waitSubs(t, p, 1)
	if err := p.Publish(context.Background(), testEnv("a.b", 1, "first")); err != nil {
		t.Fatal(err)
	}
	if m := next(t, s); m.Env.Msg["text"] != "first" {
		t.Fatalf("got %v", m.Env.Msg)
	}
	p.Close()
	// A new publisher process on the same port.
	p2, err := NewZMQPublisher(context.Background(), []string{ep}, 100)
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	waitSubs(t, p2, 1)
	env := testEnv("a.b", 2, "second")
	if err := p2.Publish(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	m := next(t, s)
	if m.Env.Msg["text"] != "second" || m.Env.I != 1 {
		t.Fatalf("after restart got %v (i=%d)", m.Env.Msg, m.Env.I)
	}
	s.Close()
	if _, err := s.Next(context.Background()); err != ErrClosed {
		t.Fatalf("Next after Close: %v", err)
	}
}

func TestSubscriberBadOptions(t *testing.T) {
	if _, err := Subscribe(context.Background(), nil, nil, SubOptions{}); err == nil {
		t.Error("no endpoints accepted")
	}
	if _, err := Subscribe(context.Background(), []string{"tcp://nohostport"}, nil, SubOptions{}); err == nil {
		t.Error("bad endpoint accepted")
	}
}

func TestSubscriberSizeLimit(t *testing.T) {
	p := newTestPub(t, 100)
	s := newTestSub(t, p.Addrs(), nil, SubOptions{MaxMessageBytes: 4096, ReconnectIvl: 10 * time.Millisecond})
	waitSubs(t, p, 1)
	if err := p.PublishRaw("big", bytes.Repeat([]byte("x"), 5000)); err != nil {
		t.Fatal(err)
	}
	// The subscriber drops the connection and comes back; the publisher
	// may still list the old connection for a moment, so retry.
	deadline := time.Now().Add(recvTimeout)
	for time.Now().Before(deadline) {
		if err := p.Publish(context.Background(), testEnv("small", 1, "ok")); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		m, err := s.Next(ctx)
		cancel()
		if err == nil {
			if m.Topic != "small" {
				t.Fatalf("got %q", m.Topic)
			}
			if s.DropCounts()[DropSize] != 1 {
				t.Fatalf("drops: %v", s.DropCounts())
			}
			return
		}
	}
	t.Fatal("no message after the oversized one")
}
