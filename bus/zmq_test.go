package bus

import (
	"context"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/debian/mailgw/bus/zmtp"
)

// testEnv makes an unsigned envelope whose msg carries n and text.
func testEnv(topic string, n int, text string) *Envelope {
	msg := map[string]any{"n": n, "text": text}
	return NewEnvelope(topic, msg, MsgID(2026, fmt.Sprint(topic, n)), 1795000000+int64(n), "mailgw")
}

// newTestPub binds a publisher to a free loopback port.
func newTestPub(t testing.TB, hwm int) *ZMQPublisher {
	t.Helper()
	p, err := NewZMQPublisher(context.Background(), []string{"tcp://127.0.0.1:0"}, hwm)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// waitSubs waits (bounded by a generous timeout, not asserted on speed)
// until the publisher sees n subscribers.
func waitSubs(t testing.TB, p *ZMQPublisher, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.WaitSubscribers(ctx, n); err != nil {
		t.Fatal(err)
	}
}

func TestZMQPublisherCounterAndClose(t *testing.T) {
	p := newTestPub(t, 10)
	for want := int64(1); want <= 3; want++ {
		env := testEnv("org.debian.dev.x.y", int(want), "t")
		if err := p.Publish(context.Background(), env); err != nil {
			t.Fatal(err)
		}
		if env.I != want {
			t.Fatalf("i = %d, want %d", env.I, want)
		}
	}
	bad := testEnv("org.debian.dev.x.y", 9, "t")
	bad.Msg["f"] = math.NaN()
	if err := p.Publish(context.Background(), bad); err == nil || bad.I != 0 {
		t.Fatalf("NaN payload: err=%v i=%d, want an error and i unset", err, bad.I)
	}
	p.Close()
	if err := p.PublishRaw("t", []byte("{}")); err != ErrClosed {
		t.Fatalf("after Close: %v, want ErrClosed", err)
	}
	if _, err := NewZMQPublisher(context.Background(), []string{"tcp://127.0.0.1:0"}, 0); err == nil {
		t.Fatal("hwm 0 accepted")
	}
	if _, err := NewZMQPublisher(context.Background(), []string{"udp://x:1"}, 1); err == nil {
		t.Fatal("udp endpoint accepted")
	}
}

func TestZMQPublisherIPCAndPing(t *testing.T) {
	ep := "ipc://" + filepath.Join(t.TempDir(), "pub.sock")
	p, err := NewZMQPublisher(context.Background(), []string{ep}, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if got := p.Addrs(); len(got) != 1 || got[0] != ep {
		t.Fatalf("Addrs() = %v, want [%s]", got, ep)
	}
	conn, r := stuckSubscriber(t, ep) // handshaken and subscribed to ""
	waitSubs(t, p, 1)
	// ZMTP 3.1 heartbeat: PING with TTL 0x000a and context "ctx".
	if _, err := conn.Write(zmtp.AppendCommand(nil, zmtp.CmdPing, []byte{0, 10, 'c', 't', 'x'})); err != nil {
		t.Fatal(err)
	}
	frames, cmd, err := zmtp.ReadMessage(r, 1<<16)
	if err != nil || !cmd {
		t.Fatalf("want a PONG command, got %q cmd=%v err=%v", frames, cmd, err)
	}
	if name, data, _ := zmtp.ParseCommand(frames[0]); name != "PONG" || string(data) != "ctx" {
		t.Fatalf("got command %q %q", name, data)
	}
	// A ZMTP 3.1 CANCEL of the subscription, then a SUBSCRIBE to a prefix.
	if _, err := conn.Write(zmtp.AppendCommand(nil, zmtp.CmdCancel, nil)); err != nil {
		t.Fatal(err)
	}
	waitExactSubs(t, p, 0)
	if _, err := conn.Write(zmtp.AppendCommand(nil, zmtp.CmdSubscribe, []byte("a."))); err != nil {
		t.Fatal(err)
	}
	waitSubs(t, p, 1)
	if err := p.PublishRaw("b.x", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if err := p.PublishRaw("a.x", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	frames, _, err = zmtp.ReadMessage(r, 1<<16)
	if err != nil || string(frames[0]) != "a.x" {
		t.Fatalf("after re-subscribing: %q %v", frames, err)
	}
}

// TestZMQPublisherCloseSilentPeer: a peer that connects and never
// greets must not hold Close up for the handshake timeout.
func TestZMQPublisherCloseSilentPeer(t *testing.T) {
	defer func(d time.Duration) { handshakeTimeout = d }(handshakeTimeout)
	handshakeTimeout = time.Hour // without the fix Close would hang
	p, err := NewZMQPublisher(context.Background(), []string{"tcp://127.0.0.1:0"}, 10)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := zmtp.Dial(context.Background(), p.Addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Wait until the publisher has read our connection: its greeting
	// arrives (10 bytes of signature at least).
	buf := make([]byte, 10)
	if _, err := io.ReadFull(conn, buf); err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	go func() { p.Close(); close(closed) }()
	// The publisher must cut the half-open connection: our read ends.
	if _, err := io.ReadAll(conn); err != nil {
		t.Fatal(err)
	}
	<-closed
}
