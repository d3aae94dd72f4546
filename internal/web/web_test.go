package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/journal"
)

// testEnv is event i: an upload of package pkg, with a summary and a
// trust decision as the pipeline makes them.
func testEnv(i int, topic, pkg string, ts int64) *bus.Envelope {
	msg := map[string]any{
		"source": pkg,
		"mail":   map[string]any{"subject": fmt.Sprintf("Accepted %s %d", pkg, i), "auth": map[string]any{"trusted": i%2 == 0}},
		"mailgw": map[string]any{"summary": fmt.Sprintf("%s %d accepted <b>", pkg, i), "url": "https://tracker.debian.org/pkg/" + pkg},
	}
	return bus.NewEnvelope(topic, msg, fmt.Sprintf("2026-t%d", i), ts, "mailgw")
}

const (
	upload = "org.debian.dev.dak.package.upload"
	report = "org.debian.dev.debbugs.bug.report"
)

// fixture is a journal with n events and a Server on it.
type fixture struct {
	j   *journal.Journal
	s   *Server
	srv *httptest.Server
	ctx context.Context
}

func newFixture(t *testing.T, n int, o Options) *fixture {
	return newFixtureOn(t, n, o, nil)
}

// smallSendBuffers is a listener whose connections have 4 KiB send
// buffers, so that a client that does not read blocks the server's
// writes after a few events rather than a few MiB of them.
type smallSendBuffers struct{ net.Listener }

func (l smallSendBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		c.(*net.TCPConn).SetWriteBuffer(4096)
	}
	return c, err
}

func newFixtureOn(t *testing.T, n int, o Options, wrap func(net.Listener) net.Listener) *fixture {
	t.Helper()
	j, err := journal.Open(filepath.Join(t.TempDir(), "j.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	var envs []*bus.Envelope
	for i := 1; i <= n; i++ {
		topic, pkg := upload, "bash"
		if i%3 == 0 {
			topic, pkg = report, "glibc"
		}
		envs = append(envs, testEnv(i, topic, pkg, 1_800_000_000+int64(i)*60))
	}
	if len(envs) > 0 {
		if _, err := j.Add(envs); err != nil {
			t.Fatal(err)
		}
	}
	return newFixtureWith(t, j, o, wrap)
}

// newFixtureWith serves the journal j.
func newFixtureWith(t *testing.T, j *journal.Journal, o Options, wrap func(net.Listener) net.Listener) *fixture {
	t.Helper()
	o.Journal = j
	if o.MaxStreams == 0 {
		o.MaxStreams = 10
	}
	if o.MaxScan == 0 {
		o.MaxScan = 10000
	}
	if o.MaxBodies == 0 {
		o.MaxBodies = 10000
	}
	if o.StreamWriteTimeout == 0 {
		o.StreamWriteTimeout = 10 * time.Second
	}
	s := New(o)
	ctx, cancel := context.WithCancel(context.Background())
	srv := httptest.NewUnstartedServer(s.Handler())
	if wrap != nil {
		srv.Listener = wrap(srv.Listener)
	}
	srv.Config.BaseContext = func(net.Listener) context.Context { return ctx }
	srv.Start()
	go s.hub.Run(ctx)
	if last, _ := j.LastSeq(); last > 0 {
		s.hub.seen(last)
	}
	t.Cleanup(func() { cancel(); srv.Close() })
	return &fixture{j: j, s: s, srv: srv, ctx: ctx}
}

// publish journals and publishes envs as serve does.
func (f *fixture) publish(t *testing.T, envs ...*bus.Envelope) {
	t.Helper()
	added, err := f.j.Add(envs)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range added {
		f.s.Hub().Publish(context.Background(), e)
	}
}

func get(t *testing.T, url string, h ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(h); i += 2 {
		req.Header.Set(h[i], h[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestHardening: every answer has the strict CSP; only GET and HEAD are
// answered; long query strings and unknown paths are refused.
func TestHardening(t *testing.T) {
	f := newFixture(t, 5, Options{})
	for _, p := range []string{"/", "/stats", "/v2/search", "/event?id=2026-t1", "/static/app.js", "/nosuch", "/v2/search?rows_per_page=0"} {
		resp, _ := get(t, f.srv.URL+p)
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("%s: CSP %q", p, csp)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", p)
		}
	}
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, "OPTIONS"} {
		req, _ := http.NewRequest(m, f.srv.URL+"/v2/search", strings.NewReader("x"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s: %d, want 405", m, resp.StatusCode)
		}
	}
	req, _ := http.NewRequest(http.MethodHead, f.srv.URL+"/v2/search", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Errorf("HEAD: %v %v", resp, err)
	}
	if resp, _ := get(t, f.srv.URL+"/v2/search?contains="+strings.Repeat("x", 5000)); resp.StatusCode != http.StatusRequestURITooLong {
		t.Errorf("long query: %d", resp.StatusCode)
	}
	if resp, _ := get(t, f.srv.URL+"/nosuch"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown path: %d", resp.StatusCode)
	}
	// The page's own markup: no inline script or style, which the CSP
	// would block.
	_, page := get(t, f.srv.URL+"/")
	for _, bad := range []string{"<script>", "style=", "onclick", "<style"} {
		if strings.Contains(page, bad) {
			t.Errorf("page has %q", bad)
		}
	}
	if !strings.Contains(page, "&lt;b&gt;") {
		t.Error("summary not escaped")
	}
}

// TestSearchBadArguments: each bad argument gets 400 with a message that
// names it.
func TestSearchBadArguments(t *testing.T) {
	f := newFixture(t, 5, Options{MaxBodies: 2})
	for q, arg := range map[string]string{
		"rows_per_page=101": "rows_per_page",
		"rows_per_page=x":   "rows_per_page",
		"page=0":            "page",
		"order=up":          "order",
		"start=yesterday":   "start",
		"end=NaN":           "end",
		"delta=-5":          "delta",
		"meta=icon":         "meta",
		"user=ralph":        "user",
		"callback=f":        "callback",
		"frobnicate=1":      "frobnicate",
		"contains=x":        "contains", // 5 bodies, more than max_bodies
		"topic=" + strings.Repeat("t&topic=", 11) + "t": "topic",
	} {
		resp, body := get(t, f.srv.URL+"/v2/search?"+q)
		var e struct{ Error, Argument string }
		json.Unmarshal([]byte(body), &e)
		if resp.StatusCode != 400 || e.Argument != arg || !strings.HasPrefix(e.Error, arg+": ") {
			t.Errorf("%s: %d %s, want 400 naming %s", q, resp.StatusCode, body, arg)
		}
	}
	for q, code := range map[string]int{"": 400, "id=nosuch": 404, "id=x&page=2": 400} {
		if resp, body := get(t, f.srv.URL+"/v2/id?"+q); resp.StatusCode != code {
			t.Errorf("/v2/id?%s: %d %s, want %d", q, resp.StatusCode, body, code)
		}
	}
}

// searchAnswer is /v2/search's answer.
type searchAnswer struct {
	RawMessages []map[string]any `json:"raw_messages"`
	Count       int
	Pages       int
	Total       int
	Arguments   map[string]any
	Pruned      map[string]any
}

func search(t *testing.T, f *fixture, q string) searchAnswer {
	t.Helper()
	resp, body := get(t, f.srv.URL+"/v2/search?"+q)
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %d %s", q, resp.StatusCode, body)
	}
	var a searchAnswer
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatal(err)
	}
	return a
}

// TestSearchAnswer: datagrepper's answer: arguments with their defaults,
// pages and the envelopes as journaled; the time arguments as
// datagrepper's table resolves them.
func TestSearchAnswer(t *testing.T) {
	now := time.Unix(1_800_000_000+30*60, 0)
	f := newFixture(t, 30, Options{Now: func() time.Time { return now }})
	a := search(t, f, "")
	if a.Total != 30 || a.Count != 20 || a.Pages != 2 || a.Arguments["order"] != "desc" || a.Arguments["rows_per_page"] != 20.0 ||
		a.Arguments["start"] != nil || a.RawMessages[0]["msg_id"] != "2026-t30" {
		t.Errorf("defaults: total %d count %d pages %d args %v first %v", a.Total, a.Count, a.Pages, a.Arguments, a.RawMessages[0]["msg_id"])
	}
	// The envelope as journaled, byte for byte.
	resp, body := get(t, f.srv.URL+"/v2/id?id=2026-t7")
	h, _, _ := f.j.ByMsgID("2026-t7")
	if resp.StatusCode != 200 || body != string(h.Body)+"\n" {
		t.Errorf("/v2/id: %d %s\nwant %s", resp.StatusCode, body, h.Body)
	}
	for q, want := range map[string][]int{
		"delta=600":                                           {20, 30}, // the last 600 s, both ends in (ts 1_800_000_000+60i)
		"start=1800000600&delta=120":                          {10, 12},
		"end=1800000600":                                      {0, 10}, // the 600 s before end
		"end=1800000600&delta=60":                             {9, 10},
		"start=1800001500":                                    {25, 30},
		"start=1800000060&end=1800000180&delta=99999":         {1, 3},
		"start=2027-01-15T08:01:00Z&end=2027-01-15T08:03:00Z": {1, 3},
	} {
		a := search(t, f, q+"&order=asc&rows_per_page=100")
		lo, hi := want[0], want[1]
		if lo == 0 {
			lo = 1
		}
		if a.Total != hi-lo+1 || (a.Count > 0 && (a.RawMessages[0]["msg_id"] != fmt.Sprintf("2026-t%d", lo) ||
			a.RawMessages[a.Count-1]["msg_id"] != fmt.Sprintf("2026-t%d", hi))) {
			t.Errorf("%s: total %d, want events %d..%d (args %v)", q, a.Total, lo, hi, a.Arguments)
		}
	}
	a = search(t, f, "package=glibc&meta=summary&meta=packages&rows_per_page=3&page=2&order=asc")
	meta, _ := a.RawMessages[0]["meta"].(map[string]any)
	if a.Total != 10 || a.Pages != 4 || a.RawMessages[0]["msg_id"] != "2026-t12" || meta["summary"] != "glibc 12 accepted <b>" {
		t.Errorf("package page 2: %+v", a)
	}
}

// sse reads Server-Sent Events from r: the ids of the data events, until
// n are read.
func sse(t *testing.T, r *bufio.Reader, n int) []string {
	t.Helper()
	var ids []string
	id := ""
	for len(ids) < n {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("after %v: %v", ids, err)
		}
		switch {
		case strings.HasPrefix(line, "id: "):
			id = strings.TrimSpace(line[4:])
		case strings.HasPrefix(line, "data: "):
			ids = append(ids, id)
		}
	}
	return ids
}

func openStream(t *testing.T, f *fixture, q string, h ...string) *bufio.Reader {
	t.Helper()
	req, _ := http.NewRequestWithContext(f.ctx, http.MethodGet, f.srv.URL+"/events?"+q, nil)
	for i := 0; i+1 < len(h); i += 2 {
		req.Header.Set(h[i], h[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return bufio.NewReader(resp.Body)
}

// TestStreamResumes: a stream sends what is published, filtered; one
// resumed with Last-Event-ID gets what it missed from the journal and
// then the live events, each once; a filter that holds events back still
// moves the Last-Event-ID.
func TestStreamResumes(t *testing.T) {
	f := newFixture(t, 10, Options{})
	all := openStream(t, f, "")
	glibc := openStream(t, f, url.Values{"package": {"glibc"}}.Encode())
	f.publish(t, testEnv(11, upload, "bash", 1_800_001_000), testEnv(12, report, "glibc", 1_800_001_001))
	if got := sse(t, all, 2); strings.Join(got, ",") != "11,12" {
		t.Errorf("all: %v", got)
	}
	if got := sse(t, glibc, 1); strings.Join(got, ",") != "12" {
		t.Errorf("glibc: %v", got)
	}
	// Resume after 4: 5..12 from the journal, then 13 live.
	r := openStream(t, f, "after=1", "Last-Event-ID", "4")
	got := sse(t, r, 8)
	f.publish(t, testEnv(13, upload, "bash", 1_800_001_002))
	got = append(got, sse(t, r, 1)...)
	if strings.Join(got, ",") != "5,6,7,8,9,10,11,12,13" {
		t.Errorf("resumed: %v", got)
	}
	// The hub drops what it cannot take at once; a stream reads it from
	// the journal (13 is the newest the hub has; 14..16 are journaled
	// but never handed to it, then 17 is).
	if _, err := f.j.Add([]*bus.Envelope{testEnv(14, upload, "a1", 1), testEnv(15, upload, "a2", 2), testEnv(16, upload, "a3", 3)}); err != nil {
		t.Fatal(err)
	}
	f.publish(t, testEnv(17, upload, "zsh", 1_800_001_003))
	if got := sse(t, all, 5); strings.Join(got, ",") != "13,14,15,16,17" {
		t.Errorf("after a gap: %v", got)
	}
	// Bad Last-Event-ID: 400.
	if resp, _ := get(t, f.srv.URL+"/events", "Last-Event-ID", "x"); resp.StatusCode != 400 {
		t.Errorf("bad Last-Event-ID: %d", resp.StatusCode)
	}
}

// TestStreamLimits: streams beyond max_streams get 503; a reader that
// takes nothing is dropped after stream_write_timeout, while a reading
// stream gets every event.
func TestStreamLimits(t *testing.T) {
	f := newFixtureOn(t, 1, Options{MaxStreams: 3, StreamWriteTimeout: 300 * time.Millisecond},
		func(l net.Listener) net.Listener { return smallSendBuffers{l} })
	reader := openStream(t, f, "")
	// Two streams that never read, on connections with small receive
	// buffers (set before connecting, so the window stays small).
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	for range 2 {
		c, err := d.Dial("tcp", f.srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
		t.Cleanup(func() { c.Close() })
	}
	waitFor(t, func() bool { return len(f.s.streams) == 3 })
	if resp, _ := get(t, f.srv.URL+"/events"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("stream over the limit: %d", resp.StatusCode)
	}
	// Events until the stuck streams' sockets are full and their writes
	// time out; the reader gets every one.
	for i := 2; len(f.s.streams) > 1; i++ {
		if i > 2000 {
			t.Fatalf("%d streams still open after 2000 events", len(f.s.streams))
		}
		f.publish(t, testEnv(i, upload, strings.Repeat("x", 90), 1_800_000_000+int64(i)))
		if got := sse(t, reader, 1); got[0] != fmt.Sprint(i) {
			t.Fatalf("reader got %v, want %d", got, i)
		}
		if i%50 == 0 {
			time.Sleep(50 * time.Millisecond) // let the stuck writes time out
		}
	}
	// The reader goes on getting events.
	f.publish(t, testEnv(1000, upload, "bash", 1_800_000_000))
	if got := sse(t, reader, 1); got[0] == "" {
		t.Fatal("reader got nothing")
	}
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !ok(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 20 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStats: the counts per topic per hour and day, as JSON and SVG.
func TestStats(t *testing.T) {
	now := time.Unix(1_800_000_000+30*60, 0)
	f := newFixture(t, 30, Options{Now: func() time.Time { return now }})
	resp, body := get(t, f.srv.URL+"/stats.json?bucket=hour&days=1")
	var st struct {
		Buckets []int64
		Topics  map[string][]int
		Total   int
	}
	json.Unmarshal([]byte(body), &st)
	if resp.StatusCode != 200 || st.Total != 30 || len(st.Buckets) != 24 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	// 1_800_000_000 is 08:00 UTC: events 1..59 s apart fall in that hour.
	last := len(st.Buckets) - 1
	if st.Buckets[last] != 1_800_000_000 || st.Topics[upload][last] != 20 || st.Topics[report][last] != 10 {
		t.Errorf("buckets %v topics %v", st.Buckets[last], st.Topics)
	}
	resp, body = get(t, f.srv.URL+"/stats.svg?bucket=day&days=7")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/svg+xml" || !strings.Contains(body, "<title>") {
		t.Errorf("svg: %d %.200s", resp.StatusCode, body)
	}
	for q, arg := range map[string]string{"bucket=week": "bucket", "days=100&bucket=hour": "days", "x=1": "x"} {
		resp, body := get(t, f.srv.URL+"/stats.json?"+q)
		if resp.StatusCode != 400 || !strings.Contains(body, `"argument":"`+arg+`"`) {
			t.Errorf("%s: %d %s", q, resp.StatusCode, body)
		}
	}
}

// TestEventPage: the detail view with the signature status.
func TestEventPage(t *testing.T) {
	f := newFixture(t, 3, Options{Verify: func(env *bus.Envelope) (string, error) { return "ABCD", nil }})
	_, page := get(t, f.srv.URL+"/event?id=2026-t2")
	if !strings.Contains(page, "unsigned") || !strings.Contains(page, "bash 2 accepted &lt;b&gt;") {
		t.Errorf("page: %s", page)
	}
	if resp, _ := get(t, f.srv.URL+"/event?id=nosuch"); resp.StatusCode != 404 {
		t.Errorf("unknown: %d", resp.StatusCode)
	}
}

// TestPruned: events whose bodies retention pruned are listed as what
// the journal still knows, and said to be pruned; /v2/id answers 410;
// the page and the event view say so.
func TestPruned(t *testing.T) {
	f := newFixture(t, 10, Options{})
	seqs := make([]int64, 10)
	for i := range seqs {
		seqs[i] = int64(i + 1)
	}
	if err := f.j.MarkPublished(seqs...); err != nil {
		t.Fatal(err)
	}
	// Bodies of the events before 1_800_000_000+5*60 (1..4) go.
	if _, err := f.j.Prune(context.Background(), time.Unix(1_800_000_000+5*60, 0), time.Time{}); err != nil {
		t.Fatal(err)
	}
	a := search(t, f, "order=asc&rows_per_page=5")
	if a.Total != 10 || a.RawMessages[0]["pruned"] != true || a.RawMessages[0]["msg_id"] != "2026-t1" ||
		a.RawMessages[4]["pruned"] != nil || a.RawMessages[4]["msg"] == nil || a.Pruned["bodies_through_seq_id"] != 4.0 {
		t.Errorf("search over pruned events: %+v", a)
	}
	if a := search(t, f, "start=1800000400"); a.Pruned != nil {
		t.Errorf("a window after the pruned events says %v", a.Pruned)
	}
	resp, body := get(t, f.srv.URL+"/v2/id?id=2026-t2")
	if resp.StatusCode != http.StatusGone || !strings.Contains(body, `"pruned":true`) || !strings.Contains(body, `"seq_id":2`) {
		t.Errorf("/v2/id of a pruned event: %d %s", resp.StatusCode, body)
	}
	if _, page := get(t, f.srv.URL+"/event?id=2026-t2"); !strings.Contains(page, "body is pruned") {
		t.Errorf("event page of a pruned event: %s", page)
	}
	if _, page := get(t, f.srv.URL+"/"); !strings.Contains(page, "(body pruned)") || !strings.Contains(page, "are pruned") {
		t.Error("the live view does not say which events are pruned")
	}
}
