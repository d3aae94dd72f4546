//go:build e2e

package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestHostileReplayPeers (issue 14, item 7): 290 pyzmq REQ peers that
// complete the handshake and go idle (40 from one address, then 25 from
// each of ten more) no longer lock the replay endpoint: an address holds
// at most replay_max_clients_per_address connections, a new client is
// answered at once (the longest idle connection makes room), and idle
// peers are disconnected after replay_idle_timeout.
func TestHostileReplayPeers(t *testing.T) {
	d := newDaemonWith(t, `replay_idle_timeout = "5s"`, "")
	d.start()
	d.sendCorpus(t, "peers", 1)
	ep := fmt.Sprintf("tcp://127.0.0.1:%d", d.replayPort)
	// One address over the per-address limit.
	startPeers(t, "idle_reqs.py", ep, "127.0.0.12:40")
	waitFor(t, 30*time.Second, "32 clients from 127.0.0.12 and 8 refused", func() bool {
		n, _ := d.metric("mailgw_replay_clients")
		r, _ := d.metric(`mailgw_replay_connections_closed_total{why="refused"}`)
		return n == 32 && r == 8
	})
	// Then ten more addresses, 25 each: more than replay_max_clients.
	args := []string{ep}
	for i := 2; i <= 11; i++ {
		args = append(args, fmt.Sprintf("127.0.0.%d:25", i))
	}
	startPeers(t, "idle_reqs.py", args...)
	waitFor(t, 30*time.Second, "256 replay clients", func() bool {
		n, _ := d.metric("mailgw_replay_clients")
		return n == 256
	})
	refused, _ := d.metric(`mailgw_replay_connections_closed_total{why="refused"}`)
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

// TestHostileTailSinceSeq (issue 14, item 5): "mailgw tail --since-seq 1"
// started while serve is down retries until the replay endpoint answers,
// then prints every envelope from seq_id 1 on, exactly once and in order,
// followed by the live ones.
func TestHostileTailSinceSeq(t *testing.T) {
	d := newDaemon(t)
	d.start()
	d.sendCorpus(t, "since", 2) // seq_ids 1-4
	d.stop()

	tail := exec.Command(mailgw, "tail", "--config", d.config, "--since-seq", "1", "--json", "--no-validate", "--count", "6")
	var stderr syncBuffer
	tail.Stderr = &stderr
	out, _ := tail.StdoutPipe()
	if err := tail.Start(); err != nil {
		t.Fatal(err)
	}
	defer tail.Process.Kill()
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	waitFor(t, 30*time.Second, "tail to retry the replay endpoint", func() bool {
		return strings.Count(stderr.String(), "replay endpoint unreachable; retrying") >= 2
	})
	d.start()
	started := time.Now()
	var seqs []int64
	next := func() {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("tail ended after %v\n%s", seqs, stderr.String())
			}
			var env struct {
				SeqID int64 `json:"seq_id"`
			}
			json.Unmarshal([]byte(l), &env)
			seqs = append(seqs, env.SeqID)
		case <-time.After(60 * time.Second):
			t.Fatalf("tail printed %v, then nothing for 60s\n%s", seqs, stderr.String())
		}
	}
	for range 4 {
		next()
	}
	t.Logf("tail filled seq_ids %v %.1fs after serve came back", seqs, time.Since(started).Seconds())
	waitFor(t, 30*time.Second, "tail to subscribe", func() bool { n, _ := d.metric("mailgw_bus_subscribers"); return n >= 1 })
	d.sendCorpus(t, "since-live", 1) // seq_ids 5-6, live
	next()
	next()
	if fmt.Sprint(seqs) != "[1 2 3 4 5 6]" {
		t.Errorf("tail printed seq_ids %v, want [1 2 3 4 5 6]", seqs)
	}
	if err := tail.Wait(); err != nil {
		t.Errorf("tail: %v\n%s", err, stderr.String())
	}
}
