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

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/journal"
	"github.com/debian/mailgw/internal/replayd"
	"github.com/miekg/dns"
)

// printedSeqs returns the seq_ids of tail --json output.
func printedSeqs(t *testing.T, out string) []int64 {
	t.Helper()
	var seqs []int64
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var env struct {
			SeqID int64 `json:"seq_id"`
		}
		if err := json.Unmarshal([]byte(line), &env); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		seqs = append(seqs, env.SeqID)
	}
	return seqs
}

// TestTailFillsGapsAndValidatesReplayed: tail fetches the missed seq_ids
// from the replay endpoint given with --replay-endpoint, validates them
// like live ones (an unsigned one is dropped) and prints them in order.
func TestTailFillsGapsAndValidatesReplayed(t *testing.T) {
	cfgPath, signer := busTestSigner(t)
	j, err := journal.Open(filepath.Join(t.TempDir(), "journal.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var envs []*bus.Envelope
	for i := 1; i <= 6; i++ {
		s := bus.Signer(signer)
		if i == 3 {
			s = nil // unsigned: must not be printed
		}
		envs = append(envs, tailEnv(t, "org.debian.dev.logger.log", fmt.Sprint("line ", i), s))
	}
	if _, err := j.Add(envs); err != nil {
		t.Fatal(err)
	}
	srv, err := replayd.NewServer(j, "tcp://127.0.0.1:0", 100, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(context.Background())
	defer srv.Close()

	pub, wait := runTailAsync(t, "--config", cfgPath, "--json", "--count", "5", "--replay-endpoint", srv.Addr())
	for _, env := range []*bus.Envelope{envs[0], envs[5], envs[4]} { // 5 is a late duplicate
		if err := pub.Publish(context.Background(), env); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errOut := wait()
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if got := printedSeqs(t, out); !slices.Equal(got, []int64{1, 2, 4, 5, 6}) {
		t.Fatalf("printed seq_ids %v\n%s", got, errOut)
	}
	if !strings.Contains(errOut, "dropped invalid replayed message") {
		t.Errorf("unsigned replayed envelope not reported:\n%s", errOut)
	}
}

// TestTailReplayEndpointDown: with its replay endpoint down, tail says so
// once on stderr and prints the live messages.
func TestTailReplayEndpointDown(t *testing.T) {
	cfgPath, _ := busTestKeys(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "tcp://" + ln.Addr().String()
	ln.Close()
	pub, wait := runTailAsync(t, "--config", cfgPath, "--json", "--no-validate", "--count", "3", "--replay-endpoint", dead)
	for _, seq := range []int64{1, 5, 9} {
		env := tailEnv(t, "org.debian.dev.logger.log", fmt.Sprint("line ", seq), nil)
		env.SeqID = seq
		if err := pub.Publish(context.Background(), env); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errOut := wait()
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if got := printedSeqs(t, out); !slices.Equal(got, []int64{1, 5, 9}) {
		t.Fatalf("printed %v", got)
	}
	if n := strings.Count(errOut, "replay endpoint unreachable"); n != 1 {
		t.Fatalf("outage reported %d times, want once:\n%s", n, errOut)
	}
}

func TestTailGapFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--endpoint", "tcp://127.0.0.1:1", "--since-seq", "5"},
		{"--endpoint", "tcp://127.0.0.1:1", "--replay-endpoint", "tcp://127.0.0.1:3=tcp://127.0.0.1:2"},
		{"--endpoint", "tcp://127.0.0.1:1", "--endpoint", "tcp://127.0.0.1:3", "--replay-endpoint", "tcp://127.0.0.1:2"},
		{"--endpoint", "tcp://127.0.0.1:1", "--replay-endpoint", "tcp://127.0.0.1:2", "--no-gap-fill", "--since-seq", "1"},
	} {
		var out, errOut bytes.Buffer
		if code := runTail(context.Background(), args, &out, &errOut); code != exitUsage {
			t.Errorf("%v: exit %d, want %d (%s)", args, code, exitUsage, errOut.String())
		}
	}
}

// TestTailSRVEndpoints: srv_endpoints become endpoints under the domain,
// from a name server the test runs; an unknown domain is skipped.
func TestTailSRVEndpoints(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := dns.NewServeMux()
	mux.HandleFunc(".", func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		if req.Question[0].Name == "_fedmsg._tcp.example.org." {
			rr, _ := dns.NewRR("_fedmsg._tcp.example.org. 60 IN SRV 0 0 9940 relay.example.org.")
			m.Answer = append(m.Answer, rr)
		} else {
			m.Rcode = dns.RcodeNameError
		}
		w.WriteMsg(m)
	})
	srv := &dns.Server{PacketConn: pc, Handler: mux}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ActivateAndServe()
	<-started
	defer srv.Shutdown()

	cfg := config.Defaults()
	cfg.SRVEndpoints = []string{"example.org", "nx.example.org"}
	var logBuf bytes.Buffer
	g := &gapFlags{dnsServer: pc.LocalAddr().String()}
	g.discoverEndpoints(context.Background(), cfg, slog.New(slog.NewTextHandler(&logBuf, nil)))
	if got := cfg.Endpoints["example.org"]; !slices.Equal(got, []string{"tcp://relay.example.org.:9940"}) {
		t.Fatalf("endpoints %v", cfg.Endpoints)
	}
	if _, ok := cfg.Endpoints["nx.example.org"]; ok || len(cfg.Endpoints) != 2 {
		t.Fatalf("NXDOMAIN not skipped: %v", cfg.Endpoints)
	}
	if eps := allEndpoints(cfg); !slices.Contains(eps, "tcp://relay.example.org.:9940") {
		t.Fatalf("tail would not subscribe to the SRV endpoint: %v", eps)
	}
}
