//go:build e2e

package bus

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func TestZMQPublisherToPyzmq(t *testing.T) {
	p := newTestPub(t, 1000)
	const prefix = "org.debian.dev.logger"
	cmd := exec.Command(python, pyScript(t, "zmq_sub.py"), p.Addrs()[0], prefix, "3")
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
	waitSubs(t, p, 1)

	texts := []string{"Hello world", "é😀\x7f\x1f\n\t\"\\/<>&\u2028 Grüße", "ünïcödé ✓"}
	var sent [][]byte
	// A message under another prefix must not reach the subscriber.
	if err := p.Publish(context.Background(), testEnv("org.debian.dev.other.x", 0, "no")); err != nil {
		t.Fatal(err)
	}
	for i, text := range texts {
		env := testEnv(prefix+".log", i+1, text)
		if err := p.Publish(context.Background(), env); err != nil {
			t.Fatal(err)
		}
		if env.I != int64(i+2) {
			t.Errorf("i = %d, want %d", env.I, i+2)
		}
		b, _ := env.Marshal()
		sent = append(sent, b)
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(nil, 1<<20)
	var got []pySubLine
	for sc.Scan() {
		var l pySubLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("bad line %q: %v", sc.Text(), err)
		}
		if !l.Ready {
			got = append(got, l)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("zmq_sub.py: %v\n%s", err, stderr.String())
	}
	if len(got) != len(texts) {
		t.Fatalf("python received %d messages, want %d", len(got), len(texts))
	}
	for i, l := range got {
		if l.NFrames != 2 || !l.TopicOK || !l.CanonicalOK {
			t.Errorf("message %d: nframes=%d topic_ok=%v canonical_ok=%v", i, l.NFrames, l.TopicOK, l.CanonicalOK)
		}
		if l.Frame0 != prefix+".log" {
			t.Errorf("message %d: frame 0 = %q", i, l.Frame0)
		}
		if l.Body != string(sent[i]) {
			t.Errorf("message %d: python got body\n%s\nwant\n%s", i, l.Body, sent[i])
		}
		env, err := ParseEnvelope([]byte(l.Body))
		if err != nil || env.Msg["text"] != texts[i] {
			t.Errorf("message %d: text round trip: %v %q", i, err, env.Msg["text"])
		}
	}
}

// python is Debian's interpreter, the one with python3-zmq.
const python = "/usr/bin/python3"

// pySubLine is one line of zmq_sub.py's output.
type pySubLine struct {
	Ready       bool   `json:"ready"`
	NFrames     int    `json:"nframes"`
	Frame0      string `json:"frame0"`
	TopicOK     bool   `json:"topic_ok"`
	CanonicalOK bool   `json:"canonical_ok"`
	Body        string `json:"body"`
}

// pyScript returns the path of a helper in test/python.
func pyScript(t testing.TB, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "test", "python", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestZMQPublisherLagPyzmq: libzmq answers the publisher's PINGs, so
// the publisher learns the lag of a python3-zmq subscriber too
// (ZMQPublisher.Lag, which serve's backfill waits on).
func TestZMQPublisherLagPyzmq(t *testing.T) {
	p := newTestPub(t, 1000)
	script := "import sys, zmq\ns = zmq.Context().socket(zmq.SUB)\ns.setsockopt(zmq.SUBSCRIBE, b'')\ns.connect(sys.argv[1])\nwhile True:\n    s.recv_multipart()\n"
	cmd := exec.Command(python, "-c", script, p.Addrs()[0])
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", python, err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	waitSubs(t, p, 1)
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; ; i++ {
		if _, ok := p.Lag(); ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("python3-zmq never answered a PING")
		}
		p.Publish(context.Background(), testEnv("org.debian.dev.x.y", i, "t"))
		time.Sleep(10 * time.Millisecond)
	}
}
