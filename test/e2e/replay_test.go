//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// replayEndpoint reads the daemon's replay endpoint from its config.
func (d *daemon) replayEndpoint(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(d.config)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)\[replay_endpoints\]\s*mailgw = "([^"]+)"`).FindSubmatch(b)
	if m == nil {
		t.Fatal("no replay endpoint in the daemon's config")
	}
	return string(m[1])
}

// journaled sends n distinct mails and waits until the journal holds
// want envelopes; it returns the highest seq_id.
func (d *daemon) journaled(t *testing.T, tmpl func(string) []byte, tag string, n int, want func(int) bool) int64 {
	t.Helper()
	sendMany(t, d, n, 2, func(i int) []byte { return tmpl(fmt.Sprintf("replay-%s-%d@e2e", tag, i)) })
	var maxSeq int64
	waitFor(t, 60*time.Second, "mail to be journaled", func() bool {
		var count int
		_, maxSeq, count = d.journal()
		return want(count) && d.spoolEmpty()
	})
	return maxSeq
}

// TestTailGapFillAgainstServe: seq_id continues across a serve restart,
// and "mailgw tail --json --since-seq 1" (the built binary) prints every
// envelope of both runs, then the live ones, each once and in seq order,
// fetched from serve's replay endpoint.
func TestTailGapFillAgainstServe(t *testing.T) {
	tmpl := mailTemplate(t, "100-report-476920-xulrunner-FTBFS-sparc.eml")
	d := newDaemon(t)
	d.start()
	first := d.journaled(t, tmpl, "a", 3, func(n int) bool { return n >= 3 })
	d.stop()
	d.start()
	_, _, before := d.journal()
	second := d.journaled(t, tmpl, "b", 3, func(n int) bool { return n >= before+3 })
	_, maxSeq, count := d.journal()
	if second <= first || maxSeq != int64(count) {
		t.Fatalf("seq_id after restart: first run ended at %d, second at %d; %d envelopes, max seq_id %d", first, second, count, maxSeq)
	}

	// tail: the backlog from the replay endpoint, then live messages
	// across another serve restart (a subscriber that reconnects late
	// misses the first ones; the gap filler fetches them). Mail keeps
	// coming until tail has printed total envelopes.
	perMail := count / 6
	total := count + 4*perMail
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, mailgw, "tail", "--config", d.config, "--json", "--no-validate",
		"--since-seq", "1", "--count", fmt.Sprint(total))
	var stderr syncBuffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(nil, 16<<20)
	var seqs []int64
	stopSending := make(chan struct{})
	sent := make(chan struct{})
	for sc.Scan() {
		var env struct {
			SeqID int64 `json:"seq_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &env); err != nil {
			t.Fatalf("tail printed a line that is not an envelope: %q", sc.Text())
		}
		seqs = append(seqs, env.SeqID)
		if len(seqs) == count {
			d.stop()
			d.start()
			go func() {
				defer close(sent)
				for i := 0; ; i++ {
					sendMany(t, d, 1, 1, func(int) []byte { return tmpl(fmt.Sprintf("replay-live-%d@e2e", i)) })
					select {
					case <-stopSending:
						return
					case <-time.After(100 * time.Millisecond):
					}
				}
			}()
		}
	}
	close(stopSending)
	if len(seqs) >= count {
		<-sent
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("tail: %v\n%s", err, stderr.String())
	}
	if len(seqs) != total {
		t.Fatalf("tail printed %d envelopes, want %d\n%s", len(seqs), total, stderr.String())
	}
	for i, s := range seqs {
		if s != int64(i+1) {
			t.Fatalf("tail printed seq_ids %v, want 1..%d each once in order", seqs, total)
		}
	}
	t.Logf("replay endpoint %s; %d envelopes over two runs, %d live; gaps filled while live: %d",
		d.replayEndpoint(t), count, total-count, strings.Count(stderr.String(), "replay: filled gap"))
}
