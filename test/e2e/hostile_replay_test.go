package e2e

import (
	"bufio"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHostileReplayPeers (issue 14, item 7): 300 pyzmq REQ peers that
// complete the handshake and go idle (30 from each of ten addresses, 40
// from an eleventh) no longer lock the replay endpoint: an address holds
// at most replay_max_clients_per_address connections, a new client is
// answered at once (the longest idle connection makes room), and idle
// peers are disconnected after replay_idle_timeout.
func TestHostileReplayPeers(t *testing.T) {
	d := newDaemonWith(t, `replay_idle_timeout = "5s"`, "")
	d.start()
	d.sendCorpus(t, "peers", 1)
	args := []string{filepath.Join(repoRoot, "test", "python", "idle_reqs.py"), fmt.Sprintf("tcp://127.0.0.1:%d", d.replayPort)}
	for i := 2; i <= 11; i++ {
		args = append(args, fmt.Sprintf("127.0.0.%d:30", i))
	}
	args = append(args, "127.0.0.12:40")
	py := exec.Command(python, args...)
	stdin, _ := py.StdinPipe()
	out, _ := py.StdoutPipe()
	var pyErr syncBuffer
	py.Stderr = &pyErr
	if err := py.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); py.Wait() })
	if sc := bufio.NewScanner(out); !sc.Scan() || sc.Text() != "connected" {
		t.Fatalf("idle_reqs.py: %q\n%s", sc.Text(), pyErr.String())
	}
	waitFor(t, 30*time.Second, "256 replay clients", func() bool {
		n, _ := d.metric("mailgw_replay_clients")
		return n == 256
	})
	refused, _ := d.metric(`mailgw_replay_connections_closed_total{why="refused"}`)
	if refused != 8 {
		t.Errorf("refused %v connections, want the 8 over replay_max_clients_per_address (32) from 127.0.0.12", refused)
	}

	start := time.Now()
	frames := d.replayQuery(t, `{"seq_id": 1}`)
	took := time.Since(start)
	t.Logf("new client answered in %.2fs with 256 idle peers connected", took.Seconds())
	if len(frames) != 1 || !strings.Contains(frames[0], `"seq_id":1`) {
		t.Errorf("new client got %.200q", frames)
	}
	if took > 4*time.Second {
		t.Errorf("new client answered after %v: not before the idle timeout", took)
	}
	evicted, _ := d.metric(`mailgw_replay_connections_closed_total{why="evicted"}`)
	if evicted < 1 {
		t.Errorf("evicted %v connections, want >= 1", evicted)
	}
	start = time.Now()
	waitFor(t, 30*time.Second, "idle peers to be disconnected", func() bool {
		n, _ := d.metric("mailgw_replay_clients")
		return n == 0
	})
	t.Logf("idle peers all gone %.1fs later (replay_idle_timeout 5s); evicted %v, refused %v", time.Since(start).Seconds(), evicted, refused)
}
