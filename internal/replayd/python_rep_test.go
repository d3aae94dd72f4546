//go:build e2e

package replayd

import (
	"bufio"
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestClientAgainstLibzmqREP: the REQ client talks to a real libzmq REP
// socket answering as fedmsg's replay server does, including its
// "no match" error text, and the GapFiller fills a gap from it.
func TestClientAgainstLibzmqREP(t *testing.T) {
	cmd := exec.Command("/usr/bin/python3", "../../test/python/replay_rep.py")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("replay_rep.py: %v\n%s", err, stderr.String())
	}
	ep := strings.TrimSpace(line)
	ctx := context.Background()
	envs, err := query(ctx, ep, SeqRange(3, 6), 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(envs) != 4 || envs[0].SeqID != 3 || envs[3].SeqID != 6 || envs[3].Topic != "org.debian.dev.test.replay" {
		t.Fatalf("got %+v", envs)
	}
	seq := int64(1)
	if _, err := query(ctx, ep, Request{SeqID: &seq}, 20*time.Second); !errors.Is(err, ErrNoMatch) {
		t.Fatalf("fedmsg's no-match reply: %v", err)
	}
	g := NewGapFiller(map[string]string{pubA: ep}, GapOptions{Logger: quiet, Timeout: 20 * time.Second})
	g.Filter(ctx, live(pubA, 10))
	if got := delivered(g.Filter(ctx, live(pubA, 14))); len(got) != 4 {
		t.Fatalf("filled %v", got)
	} else {
		checkExactlyOnce(t, got, 11)
	}
	if reply, err := Exchange(ctx, ep, [][]byte{[]byte("QUIT")}, 20*time.Second); err != nil || string(reply[0]) != "bye" {
		t.Fatalf("QUIT: %q %v", reply, err)
	}
}
