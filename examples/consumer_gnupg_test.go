//go:build e2e

// Package examples holds the consumer examples of README.md and their
// tests: examples/consumer.py (python3-zmq and gnupg only) and the Go
// consumer in goconsumer/.
package examples

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/corpustest"
)

// TestPythonConsumer: examples/consumer.py, run by Debian's python3 with
// python3-zmq and gpg, prints the summary of every golden envelope that
// mailgw signed, in order, and reports as INVALID one whose msg was
// changed after signing, one whose timestamp disagrees with its signed
// copy, one signed by another key and an unsigned one.
func TestPythonConsumer(t *testing.T) {
	dir := t.TempDir()
	signer, pubKey := newKey(t, dir, "mailgw")
	other, _ := newKey(t, dir, "other")
	pub, err := bus.NewZMQPublisher(context.Background(), []string{"tcp://127.0.0.1:0"}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()

	var envs []*bus.Envelope
	var want []string
	for i, e := range corpustest.Envelopes(t, corpustest.Golden(t))[:40] {
		env := e.Env
		env.SeqID = int64(i + 1)
		if err := bus.Sign(env, signer); err != nil {
			t.Fatal(err)
		}
		envs = append(envs, env)
		want = append(want, fmt.Sprintf("%d %s %s", env.SeqID, env.Topic, env.Msg["mailgw"].(map[string]any)["summary"]))
	}
	bad := map[string]*bus.Envelope{}
	tampered := *envs[0]
	tampered.Msg = cloneMsg(envs[0].Msg)
	tampered.Msg["source"] = "evil"
	bad["bad signature"] = &tampered
	moved := *envs[1]
	moved.Timestamp++
	bad["binding: timestamp"] = &moved
	foreign := *envs[2]
	if err := bus.Sign(&foreign, other); err != nil {
		t.Fatal(err)
	}
	bad["bad signature "] = &foreign
	unsigned := *envs[3]
	unsigned.Crypto, unsigned.Signature = "", ""
	bad["not signed"] = &unsigned

	cmd := exec.CommandContext(ctx, "/usr/bin/python3", "consumer.py", pub.Addrs()[0], "org.debian.", "--key", pubKey, "--count", fmt.Sprint(len(envs)+len(bad)))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := pub.WaitSubscribers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	for _, b := range bad {
		if err := pub.Publish(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	for _, env := range envs {
		if err := pub.Publish(ctx, env); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		got = append(got, sc.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("consumer.py: %v\n%s", err, stderr.String())
	}
	if !slices.Equal(got, want) {
		t.Fatalf("printed:\n%s\nwant:\n%s\nstderr:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), stderr.String())
	}
	for why, env := range bad {
		if !strings.Contains(stderr.String(), "INVALID "+env.MsgID+" "+strings.TrimSpace(why)) {
			t.Errorf("%s not reported:\n%s", why, stderr.String())
		}
	}
}

// newKey makes a signing key and writes its public half to dir/NAME.asc.
func newKey(t *testing.T, dir, name string) (bus.Signer, string) {
	t.Helper()
	sec, pub, _, err := bus.GenerateKey(name, name+"@example.org", 0)
	if err != nil {
		t.Fatal(err)
	}
	secPath, pubPath := filepath.Join(dir, name+".sec.asc"), filepath.Join(dir, name+".asc")
	if err := os.WriteFile(secPath, sec, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pubPath, pub, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := bus.LoadSigner(secPath, "")
	if err != nil {
		t.Fatal(err)
	}
	return s, pubPath
}

// cloneMsg copies msg one level deep.
func cloneMsg(msg map[string]any) map[string]any {
	out := make(map[string]any, len(msg))
	for k, v := range msg {
		out[k] = v
	}
	return out
}
