//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// subscriber is test/python/e2e_sub.py: a python3-zmq SUB socket.
type subscriber struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	mu    sync.Mutex
	got   []subMsg
	done  chan struct{}
}

type subMsg struct {
	Topic    string  `json:"topic"`
	MsgID    string  `json:"msg_id"`
	SeqID    int64   `json:"seq_id"`
	Frame0OK bool    `json:"frame0_ok"`
	T        float64 `json:"t"`
	// Trusted is msg.mail.auth.trusted (nil when the event has none).
	Trusted *bool `json:"trusted"`
}

// subscribe starts a python3-zmq subscriber on the daemon's bus and waits
// until serve counts it as a subscriber (no slow-joiner loss).
func (d *daemon) subscribe(t testing.TB) *subscriber {
	t.Helper()
	need(t, python)
	ctx, cancel := context.WithCancel(context.Background())
	s := &subscriber{done: make(chan struct{})}
	s.cmd = exec.CommandContext(ctx, python, filepath.Join(repoRoot, "test", "python", "e2e_sub.py"),
		fmt.Sprintf("tcp://127.0.0.1:%d", d.bus))
	var err error
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	s.cmd.Stderr = &stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.stdin.Close()
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			cancel()
			<-s.done
		}
		s.cmd.Wait()
		cancel()
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("e2e_sub.py stderr:\n%s", stderr.String())
		}
	})
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var m subMsg
			if json.Unmarshal(sc.Bytes(), &m) == nil && m.MsgID != "" {
				s.mu.Lock()
				s.got = append(s.got, m)
				s.mu.Unlock()
			}
		}
	}()
	waitFor(t, 20*time.Second, "the python subscriber to connect", func() bool {
		v, ok := d.metric("mailgw_bus_subscribers")
		return ok && v >= 1
	})
	return s
}

// messages returns what arrived so far.
func (s *subscriber) messages() []subMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]subMsg(nil), s.got...)
}
