//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/bus/zmtp"
	"github.com/debian/mailgw/bus/zmtp/zmtptest"
	"github.com/debian/mailgw/internal/replayd"
)

// maxServeRSS bounds serve's peak resident memory through the garbage:
// far below the 64 GiB and 2^63-byte frames the hostile peers announce.
const maxServeRSS = 512 << 20

// peakRSS returns a process's peak resident set (VmHWM) in bytes.
func peakRSS(t testing.TB, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^VmHWM:\s+(\d+) kB$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no VmHWM in /proc/%d/status", pid)
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb << 10
}

// TestGarbageAtZMQPorts runs the built "mailgw serve" and throws every
// hostile ZMTP peer (bad greetings, wrong versions, huge command and
// message sizes, cut frames, random bytes, stalls) at its PUB and REP
// ports, keeping the stalled ones open. serve must stay up and healthy
// with bounded memory, a python3-zmq subscriber connected before and a
// Go one connected after must both get the next mail's events, and the
// replay endpoint must still answer.
func TestGarbageAtZMQPorts(t *testing.T) {
	d := newDaemon(t)
	d.start()
	pysub := d.subscribe(t)
	pubEP := fmt.Sprintf("tcp://127.0.0.1:%d", d.bus)
	repEP := d.replayEndpoint(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for _, target := range []struct {
		ep   string
		peer zmtp.SocketType
	}{{pubEP, zmtp.Sub}, {repEP, zmtp.Req}} {
		for _, c := range zmtptest.Cases(target.peer) {
			conn, err := zmtptest.Throw(ctx, target.ep, c)
			if err != nil {
				t.Errorf("%s %s: %v", target.ep, c.Name, err)
			}
			if conn != nil {
				held = append(held, conn)
			}
		}
	}
	select {
	case <-d.exited:
		t.Fatalf("serve died of the garbage: %v", d.cmd.ProcessState)
	default:
	}
	if rss := peakRSS(t, d.cmd.Process.Pid); rss > maxServeRSS {
		t.Errorf("serve's peak RSS is %d MiB", rss>>20)
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", d.admin))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz after the garbage: %s", resp.Status)
	}

	gosub, err := bus.Subscribe(ctx, []string{pubEP}, nil, bus.SubOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer gosub.Close()
	waitFor(t, 20*time.Second, "the Go subscriber to connect", func() bool {
		v, ok := d.metric("mailgw_bus_subscribers")
		return ok && v >= 2
	})
	mail := mailTemplate(t, "100-report-476920-xulrunner-FTBFS-sparc.eml")("after-garbage@e2e")
	file := filepath.Join(t.TempDir(), "mail.eml")
	if err := os.WriteFile(file, mail, 0o644); err != nil {
		t.Fatal(err)
	}
	want := parseIDs(t, file)
	sendMany(t, d, 1, 1, func(int) []byte { return mail })
	waitFor(t, 60*time.Second, "the python subscriber to get the mail's events", func() bool {
		var got []string
		for _, m := range pysub.messages() {
			got = append(got, m.MsgID)
		}
		return !slices.ContainsFunc(want, func(id string) bool { return !slices.Contains(got, id) })
	})
	for range want {
		m, err := gosub.Next(ctx)
		if err != nil {
			t.Fatalf("Go subscriber: %v", err)
		}
		if !slices.Contains(want, m.Env.MsgID) {
			t.Fatalf("Go subscriber got %s, want one of %v", m.Env.MsgID, want)
		}
	}
	frames, err := replayd.QueryRaw(ctx, repEP, replayd.Request{MsgIDs: want}, 0)
	if err != nil || len(frames) != len(want) {
		t.Fatalf("replay endpoint after the garbage: %d envelopes, %v", len(frames), err)
	}
	for _, f := range frames {
		if _, err := bus.ParseEnvelope(f); err != nil {
			t.Fatalf("replay endpoint after the garbage: %v", err)
		}
	}
	t.Logf("%d hostile peers, %d still held open; serve's peak RSS %d MiB", 2*len(zmtptest.Cases(zmtp.Sub)), len(held), peakRSS(t, d.cmd.Process.Pid)>>20)
}
