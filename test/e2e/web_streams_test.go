//go:build e2e

package e2e

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/debian/mailgw/internal/archive/archivetest"
)

// rss returns the resident set and its peak (VmRSS, VmHWM) of process
// pid, in KiB.
func rss(t *testing.T, pid int) (cur, peak int64) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && (f[0] == "VmRSS:" || f[0] == "VmHWM:") {
			var v int64
			fmt.Sscan(f[1], &v)
			if f[0] == "VmRSS:" {
				cur = v
			} else {
				peak = v
			}
		}
	}
	return cur, peak
}

// TestWebStreamsRSS: 500 live streams that never read, beside one that
// does, while serve publishes thousands of events: serve's resident set
// stays bounded (the figures are logged; the same load without the
// streams is the reference): it does not grow with the events once the
// streams' sockets are full, and the reading stream gets every event
// once.
func TestWebStreamsRSS(t *testing.T) {
	d, port := webDaemon(t, "max_streams = 600", `stream_write_timeout = "300s"`)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	pid := d.cmd.Process.Pid
	var mails [][]byte
	files, _ := filepath.Glob(filepath.Join(repoRoot, "testdata", "mails", "*.eml"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		mails = append(mails, b)
	}
	// replay journals and publishes 2,000 generated mails through serve's
	// spool: about 2,800 events, 0.8 MiB of rows for each stream, so that
	// the streams that do not read fill their sockets (serve's send
	// buffers are 256 KiB) and block.
	replay := func(seed uint64) {
		mbox := filepath.Join(d.dir, fmt.Sprintf("gen%d.mbox", seed))
		f, err := os.Create(mbox)
		if err != nil {
			t.Fatal(err)
		}
		if err := archivetest.Generate(f, mails, 2000, seed); err != nil {
			t.Fatal(err)
		}
		f.Close()
		runMailgw(t, "replay", "--spool", "--config", d.config, "--no-progress", mbox)
		waitFor(t, 120*time.Second, "serve to take the replayed mails", d.spoolEmpty)
	}
	base, _ := rss(t, pid)
	// The reference: the same load without streams.
	replay(1)
	_, refPeak := rss(t, pid)
	_, start, _ := d.journal()

	// The reader: every event after start, in order.
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://%s/events?after=%d", addr, start), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var mu sync.Mutex
	var got []int64
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if id, ok := strings.CutPrefix(sc.Text(), "id: "); ok {
				var n int64
				fmt.Sscan(id, &n)
				mu.Lock()
				got = append(got, n)
				mu.Unlock()
			}
		}
	}()
	// 500 streams that never read, on sockets with 4 KiB receive
	// buffers: their windows fill after a few events.
	dialer := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	for range 500 {
		c, err := dialer.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
	}
	waitFor(t, 60*time.Second, "501 streams", func() bool {
		v, ok := d.metric("mailgw_web_streams")
		return ok && v == 501
	})
	connected, _ := rss(t, pid)

	readAll := func() {
		_, last, _ := d.journal()
		waitFor(t, 120*time.Second, "the reader to get every event", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(got) > 0 && got[len(got)-1] >= last
		})
	}
	replay(2)
	readAll()
	_, peak2 := rss(t, pid)
	mu.Lock()
	n2 := len(got)
	mu.Unlock()
	replay(3)
	readAll()
	after, peak := rss(t, pid)
	// The streams that do not read are stuck: serve's side of their
	// connections holds a full send queue.
	full, queued := sendQueues(t, port, 128<<10)
	if full < 450 {
		t.Errorf("%d of serve's web connections have over 128 KiB queued, want the 500 that do not read", full)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, id := range got {
		if id != start+int64(i)+1 {
			t.Fatalf("reader's event %d is seq_id %d, want %d (every event once, in order)", i, id, start+int64(i)+1)
		}
	}
	if v, _ := d.metric("mailgw_web_streams"); v != 501 {
		t.Errorf("%v streams open at the end, want 501 (none dropped within stream_write_timeout)", v)
	}
	t.Logf("%d connections stuck with %d KiB queued in the kernel (send buffers of 256 KiB)", full, queued>>10)
	t.Logf("serve RSS: %d KiB at start; peak %d KiB replaying 2,000 mails without streams; %d KiB with 501 streams open; "+
		"peak %d KiB after %d events to them (500 not reading), peak %d KiB (now %d KiB) after %d", base, refPeak, connected, peak2, n2, peak, after, len(got))
	// 256 KiB a stream is generous: a stream's own buffers, the
	// connection's and its goroutine take about 60 KiB; the hub's ring
	// (16 MiB at most) is shared.
	if peak-refPeak > 500*256 {
		t.Errorf("with 500 streams, serve's peak RSS is %d KiB above the same load without them, want under %d KiB", peak-refPeak, 500*256)
	}
	// RSS moves with the garbage collector's pace: flat is within 48 MiB
	// (a stream keeping what it cannot send would add 500 × 8 KiB per
	// event).
	if peak-peak2 > 48<<10 {
		t.Errorf("serve's peak RSS grew by %d KiB with %d more events to the same streams, want it flat (under 48 MiB)", peak-peak2, len(got)-n2)
	}
}

// sendQueues counts the TCP connections from local port whose send queue
// (/proc/net/tcp tx_queue) holds more than min bytes, and the bytes
// queued in all of them.
func sendQueues(t *testing.T, port int, min int64) (full int, total int64) {
	t.Helper()
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	local := fmt.Sprintf(":%04X", port)
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 5 || !strings.HasSuffix(f[1], local) {
			continue
		}
		tx, _, _ := strings.Cut(f[4], ":")
		var q int64
		fmt.Sscanf(tx, "%x", &q)
		total += q
		if q > min {
			full++
		}
	}
	return full, total
}
