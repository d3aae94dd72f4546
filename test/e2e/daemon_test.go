//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
// It is drawn from 20000–32767, below Linux's ephemeral range: a port
// handed out by ":0" there could be taken again by any outgoing
// connection or by another test binary's ":0" listener between this
// check and serve's bind. Ports are never handed out twice per process.
func freePort(t testing.TB) int {
	t.Helper()
	portMu.Lock()
	defer portMu.Unlock()
	for i := 0; i < 1000; i++ {
		p := 20000 + rand.IntN(12768)
		if portsUsed[p] {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		l.Close()
		portsUsed[p] = true
		return p
	}
	t.Fatal("no free port in 20000-32767")
	return 0
}

var (
	portMu    sync.Mutex
	portsUsed = map[int]bool{}
)

// daemon is one "mailgw serve" with its own state dir, config and ports.
type daemon struct {
	t                      testing.TB
	dir, state, config     string
	smtp, lmtp, bus, admin int
	replayPort             int
	cmd                    *exec.Cmd
	log                    *syncBuffer
	exited                 chan struct{}
	// journalPath is the journal when the config moves it out of state.
	journalPath string
	env         []string // extra environment for serve
}

// newDaemon writes a config (extra TOML lines go in the [smtp] table)
// into a fresh temp dir; start runs it.
func newDaemon(t testing.TB, smtpExtra ...string) *daemon {
	t.Helper()
	return newDaemonWith(t, "", "", smtpExtra...)
}

// newDaemonWith is newDaemon with extra top-level and [metrics] lines.
func newDaemonWith(t testing.TB, top, metricsExtra string, smtpExtra ...string) *daemon {
	t.Helper()
	dir := t.TempDir()
	// pipe(8) runs "mailgw deliver" as nobody: it must reach the config
	// and the spool.
	os.Chmod(filepath.Dir(dir), 0o755)
	os.Chmod(dir, 0o755)
	d := &daemon{t: t, dir: dir, state: filepath.Join(dir, "state"), config: filepath.Join(dir, "mailgw.toml"),
		smtp: freePort(t), lmtp: freePort(t), bus: freePort(t), admin: freePort(t), replayPort: freePort(t)}
	cfg := fmt.Sprintf(`state_dir = %q
username = "e2e"
%s

[endpoints]
mailgw = ["tcp://127.0.0.1:%d"]

[replay_endpoints]
mailgw = "tcp://127.0.0.1:%d"

[metrics]
listen = "127.0.0.1:%d"
%s

[log]
level = "debug"

[smtp]
listen = "127.0.0.1:%d"
lmtp_listen = "127.0.0.1:%d"
%s
`, d.state, top, d.bus, d.replayPort, d.admin, metricsExtra, d.smtp, d.lmtp, strings.Join(smtpExtra, "\n"))
	if err := os.WriteFile(d.config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			t.Logf("serve log (last 6000 bytes):\n%s", tail(d.log.String(), 6000))
		}
	})
	d.log = &syncBuffer{}
	return d
}

// start runs serve and waits until it accepts SMTP.
func (d *daemon) start() {
	d.t.Helper()
	d.cmd = exec.Command(mailgw, "serve", "--config", d.config)
	d.cmd.Stdout = d.log
	d.cmd.Stderr = d.log
	d.cmd.Env = append(os.Environ(), d.env...)
	if err := d.cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	d.exited = make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { c.Wait(); close(done) }(d.cmd, d.exited)
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", d.smtp))
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-d.exited:
			d.t.Fatalf("serve exited at start: %v\n%s", d.cmd.ProcessState, d.log.String())
		default:
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("serve did not listen within 30s\n%s", d.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (d *daemon) stop() {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	select {
	case <-d.exited:
		return
	default:
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(60 * time.Second):
		d.cmd.Process.Kill()
		<-d.exited
		d.t.Errorf("serve did not stop within 60s of SIGTERM")
	}
	if code := d.cmd.ProcessState.ExitCode(); code != 0 {
		d.t.Errorf("serve exited %d after SIGTERM", code)
	}
}

// kill sends SIGKILL and waits.
func (d *daemon) kill() {
	d.cmd.Process.Kill()
	<-d.exited
}

func (d *daemon) smtpAddr() string { return fmt.Sprintf("127.0.0.1:%d", d.smtp) }

// metric scrapes /metrics and returns the value of the sample line that
// starts with name (e.g. `mailgw_spool_depth` or `x{mode="smtp"}`).
func (d *daemon) metric(name string) (float64, bool) {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", d.admin))
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindSubmatch(b)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	return v, err == nil
}

// waitFor polls cond every 50ms until it holds or timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// spoolEmpty reports whether the spool has no mail waiting (new/ and cur/
// are empty; tmp/ may hold files a SIGKILL interrupted, never acknowledged).
func (d *daemon) spoolEmpty() bool {
	for _, sub := range []string{"new", "cur"} {
		es, err := os.ReadDir(filepath.Join(d.state, "spool", sub))
		if err != nil || len(es) > 0 {
			return false
		}
	}
	return true
}

// journal returns the msg_ids in the journal with their counts, and the
// highest seq_id.
func (d *daemon) journal() (map[string]int, int64, int) {
	d.t.Helper()
	path := d.journalPath
	if path == "" {
		path = filepath.Join(d.state, "journal.sqlite")
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		d.t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT msg_id, seq_id FROM envelopes`)
	if err != nil {
		d.t.Fatal(err)
	}
	defer rows.Close()
	ids := map[string]int{}
	var maxSeq int64
	n := 0
	for rows.Next() {
		var id string
		var seq int64
		if err := rows.Scan(&id, &seq); err != nil {
			d.t.Fatal(err)
		}
		ids[id]++
		maxSeq = max(maxSeq, seq)
		n++
	}
	if err := rows.Err(); err != nil {
		d.t.Fatal(err)
	}
	return ids, maxSeq, n
}

// parseIDs runs "mailgw parse --json" on files and returns the msg_ids.
func parseIDs(t testing.TB, files ...string) []string {
	t.Helper()
	var ids []string
	for len(files) > 0 {
		n := min(len(files), 500)
		cmd := exec.Command(mailgw, append([]string{"parse", "--json"}, files[:n]...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("mailgw parse: %v\n%s", err, stderr.String())
		}
		sc := bufio.NewScanner(bytes.NewReader(out))
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			var env struct {
				MsgID string `json:"msg_id"`
			}
			if err := json.Unmarshal(sc.Bytes(), &env); err != nil || env.MsgID == "" {
				t.Fatalf("parse --json line %q: %v", sc.Text(), err)
			}
			ids = append(ids, env.MsgID)
		}
		files = files[n:]
	}
	return ids
}

// syncBuffer is a bytes.Buffer safe for a writer and concurrent readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
