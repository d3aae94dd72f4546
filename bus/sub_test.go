package bus

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
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

func TestSubscriberFromPyzmq(t *testing.T) {
	cmd := exec.Command(python, pyScript(t, "zmq_pub.py"))
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", python, err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(out)
	if !lines.Scan() {
		t.Fatalf("zmq_pub.py printed no endpoint: %s", stderr.String())
	}
	ep := strings.TrimSpace(lines.Text())

	rejectOdd := func(env *Envelope) (string, error) {
		if env.Msg["reject"] != nil {
			return "", errors.New("rejected by test verifier")
		}
		return "FPR", nil
	}
	s := newTestSub(t, []string{ep}, []string{"org.debian."}, SubOptions{Verify: rejectOdd})
	if !lines.Scan() || lines.Text() != "subscribed" {
		t.Fatalf("zmq_pub.py: no subscription seen: %q %s", lines.Text(), stderr.String())
	}
	body := func(topic string, msg map[string]any) string {
		b, err := NewEnvelope(topic, msg, MsgID(2026, topic), 1795000000, "u").Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	const tp = "org.debian.dev.test.ok"
	send := func(frames ...string) {
		b, _ := json.Marshal(frames)
		if _, err := in.Write(append(b, '\n')); err != nil {
			t.Fatal(err)
		}
	}
	send(tp, body(tp, map[string]any{"n": 1, "s": "é😀"}))
	send(tp, body(tp, map[string]any{"n": 0}), "third frame")     // frames
	send("org.debian.garbage")                                    // frames
	send(tp, "{not json")                                         // json
	send(tp, body("org.debian.dev.test.other", map[string]any{})) // topic
	send(tp, body(tp, map[string]any{"reject": true}))            // invalid
	send("org.fedoraproject.x", body("org.fedoraproject.x", nil)) // not subscribed
	send(tp, body(tp, map[string]any{"n": 2}))

	for want := int64(1); want <= 2; want++ {
		m := next(t, s)
		if m.Topic != tp || m.Env.Topic != tp || m.Endpoint != ep || m.Signer != "FPR" {
			t.Fatalf("message %d: %+v", want, m)
		}
		if n, _ := m.Env.Msg["n"].(json.Number).Int64(); n != want {
			t.Fatalf("got n=%d, want %d", n, want)
		}
		if want == 1 && m.Env.Msg["s"] != "é😀" {
			t.Fatalf("non-ASCII: %q", m.Env.Msg["s"])
		}
	}
	want := map[string]uint64{DropFrames: 2, DropJSON: 1, DropTopic: 1, DropInvalid: 1}
	got := s.DropCounts()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("drops[%s] = %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
	if s.Dropped() != 5 {
		t.Errorf("Dropped() = %d, want 5", s.Dropped())
	}
	in.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("zmq_pub.py: %v %s", err, stderr.String())
	}
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
