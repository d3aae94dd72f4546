//go:build e2e

package e2e

import (
	"bufio"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// startPeers runs test/python/SCRIPT with args, a process of many
// python3-zmq peers, and waits for its "connected"; it ends when the test
// does.
func startPeers(t *testing.T, script string, args ...string) {
	t.Helper()
	py := exec.Command(python, append([]string{filepath.Join(repoRoot, "test", "python", script)}, args...)...)
	stdin, _ := py.StdinPipe()
	out, _ := py.StdoutPipe()
	var pyErr syncBuffer
	py.Stderr = &pyErr
	if err := py.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); py.Wait() })
	if sc := bufio.NewScanner(out); !sc.Scan() || sc.Text() != "connected" {
		t.Fatalf("%s: %q\n%s", script, sc.Text(), pyErr.String())
	}
}

// TestHostileBusMemory (issue 14, item 8): 1,000 stuck python3-zmq
// subscribers (RCVHWM 1, never reading) and one healthy one on serve's
// bus, with the default max_subscribers and subscriber_queue_bytes, while
// 300 real mails (600 envelopes) are published: serve's peak RSS stays
// under 256 MiB, and the healthy subscriber gets every envelope.
func TestHostileBusMemory(t *testing.T) {
	d := newDaemon(t)
	d.start()
	healthy := d.subscribe(t)

	const stuckN = 1000
	startPeers(t, "stuck_subs.py", fmt.Sprint(stuckN), fmt.Sprintf("tcp://127.0.0.1:%d", d.bus))
	waitFor(t, 60*time.Second, "1,001 subscribers", func() bool {
		n, _ := d.metric("mailgw_bus_subscribers")
		return n == stuckN+1
	})

	const mails = 300
	tmpl := mailTemplate(t, "100-report-476920-xulrunner-FTBFS-sparc.eml")
	sendMany(t, d, mails, 10, func(i int) []byte { return tmpl(fmt.Sprintf("bus-%d@e2e", i)) })
	deadline := time.Now().Add(120 * time.Second)
	for len(healthy.messages()) < 2*mails && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	seen := map[int64]bool{}
	for _, m := range healthy.messages() {
		seen[m.SeqID] = true
	}
	for s := int64(1); s <= 2*mails; s++ {
		if !seen[s] {
			t.Errorf("the healthy subscriber missed seq_id %d", s)
		}
	}
	drops, _ := d.metric("mailgw_bus_drops_total")
	if got := len(healthy.messages()); got < 2*mails {
		t.Errorf("the healthy subscriber got %d envelopes, want %d", got, 2*mails)
	}
	hwm := vmHWM(t, d.cmd.Process.Pid)
	t.Logf("%d stuck subscribers, %d envelopes: serve peak RSS %d MiB, %v drops (stuck subscribers' queues full)",
		stuckN, 2*mails, hwm>>20, drops)
	if hwm > 256<<20 {
		t.Errorf("serve peak RSS %d MiB with %d stuck subscribers, want < 256 MiB", hwm>>20, stuckN)
	}
	if drops == 0 {
		t.Errorf("no drops: the stuck subscribers' queues never filled, so the bound was not tested")
	}
}
