package bus

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/debian/mailgw/bus/zmtp"
)

// stuckSubscriber connects to ep as a SUB, subscribes to everything and
// then never reads, like a consumer that hangs. It returns the connection
// and its reader (which may hold bytes read past the handshake).
func stuckSubscriber(t testing.TB, ep string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := zmtp.Dial(context.Background(), ep)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	r, err := handshake(conn, zmtp.Sub, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(zmtp.AppendFrame(nil, 0, []byte{1})); err != nil {
		t.Fatal(err)
	}
	return conn, r
}

// waitExactSubs waits until the publisher lists exactly n subscribers
// (departed ones reaped).
func waitExactSubs(t testing.TB, p *ZMQPublisher, n int) {
	t.Helper()
	deadline := time.Now().Add(recvTimeout)
	for p.Subscribers() != n {
		if time.Now().After(deadline) {
			t.Fatalf("publisher has %d subscribers, want %d", p.Subscribers(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestZMQChurn is the go-zeromq/zmq4 issue 151 scenario: subscribers
// connect and disconnect repeatedly while messages flow and one
// subscriber is stuck. Every subscriber connected at the end must get
// everything published after its subscription settled.
func TestZMQChurn(t *testing.T) {
	p := newTestPub(t, 10000)
	ep := p.Addrs()[0]
	stuckSubscriber(t, ep)
	waitSubs(t, p, 1)

	stop := make(chan struct{})
	var pubWG sync.WaitGroup
	pubWG.Add(1)
	go func() { // background traffic during the churn
		defer pubWG.Done()
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := p.Publish(context.Background(), testEnv("org.debian.dev.churn", n, "x")); err != nil {
				t.Error(err)
				return
			}
			if n%64 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	const churners, rounds = 10, 15
	var wg sync.WaitGroup
	for c := 0; c < churners; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				s, err := Subscribe(context.Background(), []string{ep}, []string{"org.debian."}, SubOptions{ReconnectIvl: 10 * time.Millisecond})
				if err != nil {
					t.Error(err)
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), recvTimeout)
				_, err = s.Next(ctx) // every new subscriber must get traffic
				cancel()
				s.Close()
				if err != nil {
					t.Errorf("churner round %d: %v", r, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	pubWG.Wait()
	if t.Failed() {
		return
	}

	final := make([]*Subscriber, churners)
	for i := range final {
		final[i] = newTestSub(t, []string{ep}, []string{"org.debian.dev.final"}, SubOptions{Buffer: 4000})
	}
	waitExactSubs(t, p, churners+1) // the stuck one too
	const n = 3000
	for i := 1; i <= n; i++ {
		if err := p.Publish(context.Background(), testEnv("org.debian.dev.final", i, "y")); err != nil {
			t.Fatal(err)
		}
	}
	for k, s := range final {
		for i := int64(1); i <= n; i++ {
			m := next(t, s)
			if got, _ := m.Env.Msg["n"].(json.Number).Int64(); got != i {
				t.Fatalf("subscriber %d: got message %d, want %d", k, got, i)
			}
		}
	}
	if got := p.Subscribers(); got != churners+1 {
		t.Errorf("publisher lists %d subscribers at the end, want %d", got, churners+1)
	}
}

// TestZMQStuckSubscriberBoundedMemory publishes 200k 4 KiB messages with a
// subscriber that never reads: the heap must stay bounded (drops counted)
// and the publisher must still deliver to a healthy subscriber afterwards.
// The bound comes from the message count (hwm) or from MaxQueueBytes.
func TestZMQStuckSubscriberBoundedMemory(t *testing.T) {
	t.Run("hwm", func(t *testing.T) { stuckMemory(t, 1000, DefaultMaxQueueBytes) })
	t.Run("bytes", func(t *testing.T) { stuckMemory(t, 1<<20, 8<<20) })
}

func stuckMemory(t *testing.T, hwm int, maxBytes int64) {
	p := newTestPub(t, hwm)
	p.MaxQueueBytes = maxBytes
	stuckSubscriber(t, p.Addrs()[0])
	waitSubs(t, p, 1)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	body := bytes.Repeat([]byte("m"), 4096)
	const total = 200000
	for i := 0; i < total; i++ {
		if err := p.PublishRaw("org.debian.dev.bulk", body); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap growth %d KiB, dropped %d of %d", growth>>10, p.Dropped(), total)
	if growth > 64<<20 {
		t.Errorf("heap grew by %d MiB publishing to a stuck subscriber", growth>>20)
	}
	if p.Dropped() < total/2 {
		t.Errorf("dropped %d of %d; a stuck subscriber should lose most", p.Dropped(), total)
	}

	s := newTestSub(t, p.Addrs(), nil, SubOptions{})
	waitSubs(t, p, 2)
	if err := p.Publish(context.Background(), testEnv("org.debian.dev.after", 1, "z")); err != nil {
		t.Fatal(err)
	}
	if m := next(t, s); m.Topic != "org.debian.dev.after" {
		t.Fatalf("got %q", m.Topic)
	}
}
