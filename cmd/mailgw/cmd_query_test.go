package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/corpustest"
	"github.com/debian/mailgw/internal/journal"
	"github.com/debian/mailgw/internal/replayd"
	"github.com/debian/mailgw/schemas"
)

// runQuery runs "mailgw query ARGS" in-process.
func runQuery(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code := execute(ctx, append([]string{"query"}, args...), strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestQuery: query asks a replay endpoint by seq_id range, msg_id and
// time range and prints the matching envelopes of mailgw's journal,
// validated (--json lines carry "validation" and pass the schemas); an
// unsigned one is refused, no match and an endpoint that does not answer
// have their exit codes.
func TestQuery(t *testing.T) {
	cfgPath, signer := busTestSigner(t)
	const t0 = 1795000000
	var envs []*bus.Envelope
	for i, e := range corpustest.Envelopes(t, corpustest.Golden(t))[:20] {
		env := bus.NewEnvelope(e.Env.Topic, e.Env.Msg, e.Env.MsgID, t0+int64(i)*100, e.Env.Username)
		if err := bus.Sign(env, signer); err != nil {
			t.Fatal(err)
		}
		envs = append(envs, env)
	}
	envs = append(envs, tailEnv(t, "org.debian.dev.logger.log", "unsigned", nil))
	j, err := journal.Open(filepath.Join(t.TempDir(), "journal.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if _, err := j.Add(envs); err != nil {
		t.Fatal(err)
	}
	srv, err := replayd.NewServer(j, "tcp://127.0.0.1:0", 100, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(context.Background())
	defer srv.Close()
	ep := []string{"--config", cfgPath, "--replay-endpoint", srv.Addr()}

	seqs := func(out string) []int64 {
		var got []int64
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			var env struct {
				SeqID      int64 `json:"seq_id"`
				Validation *struct{ Bound bool }
			}
			if err := json.Unmarshal([]byte(l), &env); err != nil || env.Validation == nil || !env.Validation.Bound {
				t.Fatalf("not a validated envelope: %.200s (%v)", l, err)
			}
			if err := schemas.Validate([]byte(l)); err != nil {
				t.Errorf("seq_id %d: %v", env.SeqID, err)
			}
			got = append(got, env.SeqID)
		}
		return got
	}
	code, out, errOut := runQuery(append(ep, "--seq", "3-5", "--json")...)
	if code != exitOK || !slices.Equal(seqs(out), []int64{3, 4, 5}) {
		t.Fatalf("--seq 3-5: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runQuery(append(ep, "--since", fmt.Sprint(t0+1000), "--until", fmt.Sprint(t0+1200), "--json")...)
	if code != exitOK || !slices.Equal(seqs(out), []int64{11, 12, 13}) {
		t.Fatalf("--since/--until: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runQuery(append(ep, "--msg-id", envs[7].MsgID, "--msg-id", envs[1].MsgID, "--terse")...)
	want := summary(envs[1]) + "\n" + summary(envs[7]) + "\n"
	if code != exitOK || out != want {
		t.Fatalf("--msg-id --terse: exit %d\n%q\nwant %q\n%s", code, out, want, errOut)
	}
	if code, out, errOut = runQuery(append(ep, "--seq", "20", "--seq", "21")...); code != exitFailure || strings.Count(out, "\n") != 1 || !strings.Contains(errOut, "dropped invalid envelope") {
		t.Errorf("an unsigned envelope: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, _, errOut = runQuery(append(ep, "--seq", "999")...); code != exitFailure || !strings.Contains(errOut, "no match") {
		t.Errorf("no match: exit %d\n%s", code, errOut)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "tcp://" + ln.Addr().String()
	ln.Close()
	if code, _, errOut = runQuery("--config", cfgPath, "--replay-endpoint", closed, "--seq", "1", "--timeout", "1s"); code != exitTempFail {
		t.Errorf("no endpoint: exit %d\n%s", code, errOut)
	}
	for _, bad := range [][]string{{}, {"--seq", "5-3"}, {"--seq", "x"}, {"--until", "2026-01-01"}, {"--since", "yesterday"}, {"--seq", "1", "--json", "--terse"}, {"--seq", "1-2", "--seq", "4-5"}} {
		if code, _, errOut := runQuery(append(ep, bad...)...); code != exitUsage {
			t.Errorf("%v: exit %d\n%s", bad, code, errOut)
		}
	}
}
