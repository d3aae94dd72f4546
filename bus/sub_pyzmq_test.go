//go:build e2e

package bus

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"
)

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
