//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/debian/mailgw/internal/archive/archivetest"

	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// webDaemon is a serve with the web listener on a port of its own.
func webDaemon(t *testing.T, extra ...string) (*daemon, int) {
	t.Helper()
	port := freePort(t)
	d := newDaemon(t, append([]string{"[web]", fmt.Sprintf("listen = \"127.0.0.1:%d\"", port)}, extra...)...)
	d.start()
	waitFor(t, 30*time.Second, "the web listener", func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return d, port
}

// deliver runs "mailgw deliver" with the mail in file.
func deliver(t *testing.T, d *daemon, file string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(mailgw, "deliver", "--config", d.config)
	cmd.Stdin = f
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("deliver %s: %v\n%s", file, err, out)
	}
}

// cutProxy forwards TCP connections to a backend until cut, which closes
// its listener and every connection; restore listens on the same
// address again. It stands for a network that drops and comes back.
type cutProxy struct {
	t       *testing.T
	addr    string
	backend string
	mu      sync.Mutex
	ln      net.Listener
	conns   []net.Conn
}

func newCutProxy(t *testing.T, backend string) *cutProxy {
	p := &cutProxy{t: t, addr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), backend: backend}
	p.restore()
	t.Cleanup(p.cut)
	return p
}

func (p *cutProxy) restore() {
	p.t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", p.backend)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, b)
			p.mu.Unlock()
			go func() { io.Copy(b, c); b.Close() }()
			go func() { io.Copy(c, b); c.Close() }()
		}
	}()
}

func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// browser starts Debian's chromium, headless, with a fresh profile; it
// records console errors, exceptions and the Server-Sent Events the page
// receives.
type browser struct {
	ctx    context.Context
	mu     sync.Mutex
	errors []string
	events map[string]int // SSE message id → times received
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	const chromium = "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("Debian's chromium is missing (test/install-deps.sh installs it): %v", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelA() })
	b := &browser{ctx: ctx, events: map[string]int{}}
	err := chromedp.Listen(ctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == "error" {
				b.errors = append(b.errors, fmt.Sprintf("console.error %v", ev.Args))
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			b.errors = append(b.errors, "exception: "+msg)
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError {
				b.errors = append(b.errors, fmt.Sprintf("log (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
			}
		case *network.EventEventSourceMessageReceived:
			b.events[ev.EventID]++
		}
	})
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	return b
}

// do runs actions in the page, failing the test on error.
func (b *browser) do(t *testing.T, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatal(err)
	}
}

// value runs an action that returns a value.
func value[T any](t *testing.T, b *browser, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// takeErrors returns and forgets the errors seen so far.
func (b *browser) takeErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.errors
	b.errors = nil
	return e
}

// has reports whether the page shows a row for msgID.
func (b *browser) has(t *testing.T, msgID string) bool {
	return value(t, b, chromedp.Evaluate[bool](fmt.Sprintf(`document.querySelector('#rows a[href="/event?id=%s"]') !== null`, msgID)))
}

// rowSeqs returns the seq_ids of the rows shown, in page order.
func (b *browser) rowSeqs(t *testing.T) []string {
	return value(t, b, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('#rows tr')).map(r => r.dataset.seq)`))
}

func (b *browser) waitLive(t *testing.T) {
	t.Helper()
	b.do(t, chromedp.WaitVisible(chromedp.CSS(`#live.live-on`)))
}

// TestWebBrowser: Debian's chromium, headless, on the live view: the page
// loads with no console error; a mail delivered with "mailgw deliver"
// appears as a row within a second; a filter hides it; after the
// browser's connection is cut and restored, the events published
// meanwhile appear, and no event reaches the page twice. Without
// JavaScript the page is a paged list.
func TestWebBrowser(t *testing.T) {
	d, port := webDaemon(t)
	mails := filepath.Join(repoRoot, "testdata", "mails")
	// History, so the page has rows and pages: the debbugs mails,
	// replayed into serve's spool.
	history, err := filepath.Glob(filepath.Join(mails, "1*.eml"))
	if err != nil || len(history) < 30 {
		t.Fatalf("history: %v %v", history, err)
	}
	runMailgw(t, append([]string{"replay", "--config", d.config, "--no-progress"}, history...)...)
	waitFor(t, 60*time.Second, "serve to take the replayed mails", d.spoolEmpty)
	px := newCutProxy(t, fmt.Sprintf("127.0.0.1:%d", port))
	base := "http://" + px.addr
	b := newBrowser(t)
	b.do(t, chromedp.Navigate(base+"/"))
	b.waitLive(t)
	if errs := b.takeErrors(); len(errs) > 0 {
		t.Fatalf("console errors on load: %q", errs)
	}

	// A mail appears within a second of "mailgw deliver". Three mails;
	// each delay is logged, their median must be under a second (one
	// slow delivery on a loaded machine is not the page's fault).
	var delays []time.Duration
	for _, m := range []string{"009-bash-accepted-2008.eml", "002-xfsprogs-accepted-maintainer-2019.eml", "005-xfsprogs-accepted-qp-2023.eml"} {
		file := filepath.Join(mails, m)
		ids := parseIDs(t, file)
		start := time.Now()
		deliver(t, d, file)
		waitFor(t, 30*time.Second, m+" on the page", func() bool { return b.has(t, ids[0]) })
		delays = append(delays, time.Since(start))
	}
	t.Logf("deliver → row: %v", delays)
	sorted := slices.Clone(delays)
	slices.Sort(sorted)
	if sorted[1] > time.Second {
		t.Errorf("median delay from deliver to row %v, want at most 1 s (%v)", sorted[1], delays)
	}

	// A filter hides it: the bash upload is not a glibc event.
	bash := parseIDs(t, filepath.Join(mails, "009-bash-accepted-2008.eml"))[0]
	b.do(t, chromedp.SetValue(chromedp.CSS(`input[name="package"]`), "xfsprogs"),
		chromedp.Submit(chromedp.CSS(`form.filter`)))
	waitFor(t, 30*time.Second, "the filtered page", func() bool {
		return strings.Contains(value(t, b, chromedp.Location()), "package=xfsprogs")
	})
	b.waitLive(t)
	loc := value(t, b, chromedp.Location())
	if !strings.Contains(loc, "package=xfsprogs") || b.has(t, bash) {
		t.Errorf("filter package=xfsprogs at %s: the bash row is still shown", loc)
	}
	// ... and live events too: a bash upload does not appear, an
	// xfsprogs one does.
	deliver(t, d, filepath.Join(mails, "003-xfsprogs-accepted-experimental-2021.eml"))
	xfs := parseIDs(t, filepath.Join(mails, "003-xfsprogs-accepted-experimental-2021.eml"))[0]
	waitFor(t, 30*time.Second, "the xfsprogs upload in the filtered view", func() bool { return b.has(t, xfs) })
	if b.has(t, bash) {
		t.Error("the bash row is shown in the xfsprogs view")
	}

	// Cut the connection, publish meanwhile, restore: the events appear,
	// none twice.
	b.do(t, chromedp.Navigate(base+"/"))
	b.waitLive(t)
	px.cut()
	b.do(t, chromedp.WaitVisible(chromedp.CSS(`#live.live-wait`)))
	var missed []string
	for _, m := range []string{"004-xfsprogs-accepted-maintainer-2026.eml", "006-xfsprogs-accepted-nmu-2024.eml", "007-xfsprogs-rejected-2021.eml"} {
		deliver(t, d, filepath.Join(mails, m))
		missed = append(missed, parseIDs(t, filepath.Join(mails, m))...)
	}
	_, last, _ := d.journal()
	px.restore()
	waitFor(t, 60*time.Second, "the events published while cut", func() bool {
		for _, id := range missed {
			if !b.has(t, id) {
				return false
			}
		}
		return true
	})
	// Every event journaled is on the page once, newest first, and came
	// over the stream at most once.
	seqs := b.rowSeqs(t)
	if seqs[0] != fmt.Sprint(last) {
		t.Errorf("newest row %s, want seq_id %d", seqs[0], last)
	}
	seen := map[string]bool{}
	for _, s := range seqs {
		if seen[s] {
			t.Errorf("row %s twice", s)
		}
		seen[s] = true
	}
	b.mu.Lock()
	var twice []string
	for id, n := range b.events {
		if n > 1 {
			twice = append(twice, id)
		}
	}
	nEvents := len(b.events)
	b.mu.Unlock()
	sort.Strings(twice)
	if len(twice) > 0 {
		t.Errorf("events received twice over the stream: %v", twice)
	}
	t.Logf("%d rows, %d distinct events received over the stream", len(seqs), nEvents)
	// The connection errors while cut are the network's; nothing else.
	for _, e := range b.takeErrors() {
		if !strings.Contains(e, "/events") || !strings.HasPrefix(e, "log (network)") {
			t.Errorf("console error: %s", e)
		}
	}

	// Without JavaScript: a plain list with pages.
	if _, err := chromedp.Call(b.ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
	b.do(t, chromedp.Navigate(base+"/?page=2"))
	// Evaluate runs with page scripts off (the protocol's own calls do).
	rows := value(t, b, chromedp.Evaluate[int](`document.querySelectorAll('#rows tr').length`))
	links := value(t, b, chromedp.Text(chromedp.CSS(`p.pages`)))
	status := value(t, b, chromedp.Text(chromedp.CSS(`p.status`)))
	if _, _, n := d.journal(); rows != min(50, n-50) || !strings.Contains(links, "newer") || !strings.Contains(status, "page 2") {
		t.Errorf("page 2 without JavaScript: %d rows, links %q, status %q (%d events)", rows, links, status, n)
	}
	b.do(t, chromedp.Navigate(base+"/"))
	status = value(t, b, chromedp.Text(chromedp.CSS(`p.status`)))
	if !strings.Contains(status, "JavaScript is off") {
		t.Errorf("page 1 without JavaScript says %q", status)
	}
	if errs := b.takeErrors(); len(errs) > 0 {
		t.Errorf("console errors without JavaScript: %q", errs)
	}
}

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
		runMailgw(t, "replay", "--config", d.config, "--no-progress", mbox)
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
