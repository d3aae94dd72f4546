package bus

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/debian/mailgw/bus/zmtp"
)

// bench4KBody returns the canonical body of an envelope with a 4 KiB msg,
// the frames bench/pyzmq_rate.py sends too.
func bench4KBody(tb testing.TB) (string, []byte) {
	const topic = "org.debian.dev.bench.load"
	env := NewEnvelope(topic, map[string]any{"log": strings.Repeat("x", 4096)}, MsgID(2026, "bench"), 1795000000, "bench")
	env.I = 1
	body, err := env.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	return topic, body
}

// benchPublish publishes b.N copies of a 4 KiB envelope while recv
// consumes them, keeping at most hwm/2 in flight so that the rate is
// sustained throughput with no drops, and reports received msg/s.
func benchPublish(b *testing.B, p *ZMQPublisher, recv func() error, dropped func() uint64) {
	const hwm = 10000
	topic, body := bench4KBody(b)
	credits := make(chan struct{}, hwm/2)
	errc := make(chan error, 1)
	go func() {
		for range b.N {
			if err := recv(); err != nil {
				errc <- err
				return
			}
			<-credits
		}
		errc <- nil
	}()
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		credits <- struct{}{}
		if err := p.PublishRaw(topic, body); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msg/s")
	if d := p.Dropped() + dropped(); d != 0 {
		b.Fatalf("%d messages dropped", d)
	}
}

// BenchmarkZMQPublish4K is the transport rate: ZMQPublisher to a Go SUB
// connection (bus/zmtp handshake, the Subscriber's frame reader) on TCP
// loopback, counting two-frame messages, as bench/pyzmq_rate.py does
// for libzmq.
func BenchmarkZMQPublish4K(b *testing.B) {
	p, err := NewZMQPublisher(context.Background(), []string{"tcp://127.0.0.1:0"}, 10000)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	conn, err := zmtp.Dial(context.Background(), p.Addrs()[0])
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	r, err := handshake(conn, zmtp.Sub, false)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := conn.Write(zmtp.AppendFrame(nil, 0, []byte{1})); err != nil {
		b.Fatal(err)
	}
	waitSubs(b, p, 1)
	var bad uint64
	recv := func() error {
		for {
			// The publisher follows what it wrote with PINGs
			// (ZMQPublisher.Lag); this reader does not answer them.
			frames, cmd, err := zmtp.ReadMessage(r, 1<<20)
			if err == nil && cmd {
				continue
			}
			if len(frames) != 2 {
				bad++
			}
			return err
		}
	}
	benchPublish(b, p, recv, func() uint64 { return bad })
}

// BenchmarkZMQPublishSubscribe4K adds the Subscriber's validation: every
// message is parsed as an envelope and its topic checked.
func BenchmarkZMQPublishSubscribe4K(b *testing.B) {
	p, err := NewZMQPublisher(context.Background(), []string{"tcp://127.0.0.1:0"}, 10000)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	s, err := Subscribe(context.Background(), p.Addrs(), nil, SubOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	waitSubs(b, p, 1)
	recv := func() error {
		_, err := s.Next(context.Background())
		return err
	}
	benchPublish(b, p, recv, s.Dropped)
}
