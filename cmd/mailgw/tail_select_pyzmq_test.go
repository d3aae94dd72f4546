//go:build e2e

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/corpustest"
)

// TestTailSelectLikePython: --include, --exclude and --package select
// exactly the messages that a python3-zmq subscriber, filtering the same
// stream by hand (re.search on the topic, membership in
// msg.mailgw.packages), selects: every golden envelope is published, then
// a marker that every case selects, after which both sides are compared.
func TestTailSelectLikePython(t *testing.T) {
	envs := corpustest.Envelopes(t, corpustest.Golden(t))
	cfgPath, _ := busTestKeys(t)
	for _, tc := range []struct {
		name                       string
		include, exclude, packages []string
	}{
		{"include", []string{`dak\.package\.`, `\.bug\.close$`}, nil, nil},
		{"exclude", nil, []string{`debmessenger`, `\.pts\.`}, nil},
		{"package", nil, nil, []string{"xfsprogs", "bash", "wnpp"}},
		{"all three", []string{`debbugs|tracker`}, []string{`control`}, []string{"xfsprogs"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"--config", cfgPath, "--no-validate", "--no-gap-fill", "--json"}
			py := []string{"--count", fmt.Sprint(len(envs) + 1)}
			for _, r := range tc.include {
				args, py = append(args, "--include", r), append(py, "--include", r)
			}
			for _, r := range tc.exclude {
				args, py = append(args, "--exclude", r), append(py, "--exclude", r)
			}
			for _, p := range tc.packages {
				args, py = append(args, "--package", p), append(py, "--package", p)
			}
			pub, err := bus.NewZMQPublisher(context.Background(), []string{"tcp://127.0.0.1:0"}, 1000)
			if err != nil {
				t.Fatal(err)
			}
			defer pub.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, "/usr/bin/python3", filepath.Join(corpustest.Root(), "test", "python", "select_sub.py"), pub.Addrs()[0])
			cmd.Args = append(cmd.Args, py...)
			pyOut, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var pyErr strings.Builder
			cmd.Stderr = &pyErr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			lines := bufio.NewScanner(pyOut)
			if !lines.Scan() || lines.Text() != "ready" {
				t.Fatalf("python3 subscriber: %q %s", lines.Text(), pyErr.String())
			}
			tailOut := &lockedBuffer{}
			tailCtx, stopTail := context.WithCancel(ctx)
			done := make(chan int, 1)
			go func() {
				done <- runTail(tailCtx, append(args, "--endpoint", pub.Addrs()[0]), tailOut, &strings.Builder{})
			}()
			if err := pub.WaitSubscribers(ctx, 2); err != nil {
				t.Fatal(err)
			}
			for _, e := range envs {
				env := *e.Env
				env.SeqID = 0
				if err := pub.Publish(ctx, &env); err != nil {
					t.Fatal(err)
				}
			}
			marker := bus.NewEnvelope("org.debian.dev.debbugs.dak.package.marker", map[string]any{"mailgw": map[string]any{"packages": []any{"xfsprogs", "bash"}, "summary": "marker"}}, bus.MsgID(2026, "marker"), 1, "test")
			if err := pub.Publish(ctx, marker); err != nil {
				t.Fatal(err)
			}
			var want []string
			for lines.Scan() {
				want = append(want, lines.Text())
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("python3 subscriber: %v\n%s", err, pyErr.String())
			}
			var got []string
			for ctx.Err() == nil {
				got = msgIDs(t, tailOut.String())
				if slices.Contains(got, marker.MsgID) {
					break
				}
				time.Sleep(20 * time.Millisecond) // polling tail's output for the marker
			}
			stopTail()
			<-done
			if len(want) < 2 || want[len(want)-1] != marker.MsgID {
				t.Fatalf("python3 selected %d, the marker last: %v", len(want), want)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("tail selected %d messages, python3 %d:\ntail %v\npython3 %v", len(got), len(want), got, want)
			}
			t.Logf("%d of %d selected by both", len(want)-1, len(envs))
		})
	}
}

// msgIDs returns the msg_ids of tail --json's lines.
func msgIDs(t *testing.T, out string) []string {
	var ids []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var env struct {
			MsgID string `json:"msg_id"`
		}
		if err := json.Unmarshal([]byte(l), &env); err != nil {
			continue // a line being written
		}
		ids = append(ids, env.MsgID)
	}
	return ids
}

// lockedBuffer is a strings.Builder safe for one writer and one reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
