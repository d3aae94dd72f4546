//go:build e2e

package e2e

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/smtp"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawConn is a line-level SMTP client, to see exact replies.
type rawConn struct {
	t testing.TB
	c net.Conn
	r *bufio.Reader
}

func dialRaw(t testing.TB, addr string, local net.Addr) *rawConn {
	t.Helper()
	d := net.Dialer{LocalAddr: local, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, r: bufio.NewReader(c)}
}

// reply returns the last line of the next reply, or "EOF…" when the
// server closed the connection.
func (r *rawConn) reply() string {
	r.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		line, err := r.r.ReadString('\n')
		if err != nil {
			return "EOF " + err.Error()
		}
		line = strings.TrimRight(line, "\r\n")
		if len(line) < 4 || line[3] != '-' {
			return line
		}
	}
}

func (r *rawConn) cmd(line, want string) string {
	r.t.Helper()
	io.WriteString(r.c, line+"\r\n")
	got := r.reply()
	if !strings.HasPrefix(got, want) {
		r.t.Errorf("%s: got %q, want %q…", line, got, want) // not Fatal: used from goroutines
	}
	return got
}

// TestBadInput: size limit, client and recipient restrictions, garbage,
// a stalled client and 500 concurrent connections, against one serve.
func TestBadInput(t *testing.T) {
	d := newDaemon(t,
		`max_message_bytes = 200000`,
		`allowed_networks = ["127.0.0.1/32"]`,
		`allowed_recipients = ["mailgw@localhost", "@bugs.debian.org"]`,
		`read_timeout = "1s"`,
		`max_connections = 100`)
	d.start()
	good := mailTemplate(t, "100-report-476920-xulrunner-FTBFS-sparc.eml")

	t.Run("TooBig", func(t *testing.T) {
		c := dialRaw(t, d.smtpAddr(), nil)
		c.reply()
		c.cmd("EHLO e2e.test", "250")
		c.cmd("MAIL FROM:<a@example.org> SIZE=300000", "552 5.3.4")
		c.cmd("MAIL FROM:<a@example.org>", "250")
		c.cmd("RCPT TO:<mailgw@localhost>", "250")
		c.cmd("DATA", "354")
		big := strings.Repeat(strings.Repeat("x", 76)+"\r\n", 4000) // 312,000 bytes
		io.WriteString(c.c, "Subject: big\r\n\r\n"+big)
		c.cmd(".", "552 5.3.4")
	})
	t.Run("ClientNotAllowed", func(t *testing.T) {
		c := dialRaw(t, d.smtpAddr(), &net.TCPAddr{IP: net.ParseIP("127.0.0.2")})
		if got := c.reply(); !strings.HasPrefix(got, "554 5.7.1") {
			t.Errorf("greeting to 127.0.0.2: %q, want 554 5.7.1", got)
		}
	})
	t.Run("RecipientNotAllowed", func(t *testing.T) {
		c := dialRaw(t, d.smtpAddr(), nil)
		c.reply()
		c.cmd("EHLO e2e.test", "250")
		c.cmd("MAIL FROM:<a@example.org>", "250")
		c.cmd("RCPT TO:<root@example.com>", "550 5.7.1")
		c.cmd("RCPT TO:<123456@bugs.debian.org>", "250")
	})
	t.Run("StallMidData", func(t *testing.T) {
		c := dialRaw(t, d.smtpAddr(), nil)
		c.reply()
		c.cmd("EHLO e2e.test", "250")
		c.cmd("MAIL FROM:<a@example.org>", "250")
		c.cmd("RCPT TO:<mailgw@localhost>", "250")
		c.cmd("DATA", "354")
		io.WriteString(c.c, "Subject: I will stall\r\n\r\nhalf a")
		// Say nothing more; serve must give up without a 250.
		if got := c.reply(); strings.HasPrefix(got, "250") {
			t.Fatalf("a stalled DATA got %q", got)
		}
	})
	t.Run("Garbage", func(t *testing.T) {
		const n = 1000
		sendMany(t, d, n, 4, garbage)
		qdir := filepath.Join(d.state, "quarantine")
		waitFor(t, 120*time.Second, fmt.Sprintf("%d mails in quarantine", n), func() bool {
			mails, _ := quarantined(qdir)
			return len(mails) >= n
		})
		mails, reasons := quarantined(qdir)
		if len(mails) != n || reasons != n {
			t.Errorf("quarantine: %d mails, %d reason files; want %d each", len(mails), reasons, n)
		}
		for _, m := range mails[:5] {
			b, err := os.ReadFile(filepath.Join(qdir, m+".reason"))
			if err != nil || len(strings.TrimSpace(string(b))) == 0 {
				t.Errorf("%s: no readable reason (%v)", m, err)
			}
		}
		// The daemon keeps serving: a good mail still becomes events.
		mail := good("after-garbage@e2e.test")
		file := filepath.Join(t.TempDir(), "good.eml")
		os.WriteFile(file, mail, 0o644)
		sendMany(t, d, 1, 1, func(int) []byte { return mail })
		expectJournaled(t, d, parseIDs(t, file))
	})
	t.Run("500Connections", func(t *testing.T) {
		const n = 500
		// A serve of its own, without the 1 s read timeout of the stall
		// above: on a loaded machine the admitted clients wait longer
		// than that for the 500 greetings before they speak.
		d := newDaemon(t, `allowed_networks = ["127.0.0.1/32"]`, `allowed_recipients = ["mailgw@localhost"]`, `max_connections = 100`)
		d.start()
		conns := make([]*rawConn, n)
		greetings := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				conns[i] = dialRaw(t, d.smtpAddr(), nil)
				greetings[i] = conns[i].reply()
			}()
		}
		wg.Wait()
		var in []*rawConn
		rejected := 0
		for i, g := range greetings {
			switch {
			case strings.HasPrefix(g, "220 "):
				in = append(in, conns[i])
			case strings.HasPrefix(g, "421 "):
				rejected++
			default:
				t.Errorf("connection %d greeted with %q", i, g)
			}
		}
		if len(in) != 100 || rejected != n-100 {
			t.Fatalf("%d admitted, %d rejected; want 100 and %d", len(in), rejected, n-100)
		}
		// Every admitted client delivers; every 250 becomes events.
		dir := t.TempDir()
		var files []string
		for i, c := range in {
			wg.Add(1)
			file := filepath.Join(dir, fmt.Sprintf("%03d.eml", i))
			files = append(files, file)
			mail := good(fmt.Sprintf("conn-%03d@e2e.test", i))
			os.WriteFile(file, mail, 0o644)
			go func() {
				defer wg.Done()
				c.cmd("EHLO e2e.test", "250")
				c.cmd("MAIL FROM:<a@example.org>", "250")
				c.cmd("RCPT TO:<mailgw@localhost>", "250")
				c.cmd("DATA", "354")
				io.WriteString(c.c, dotStuff(string(mail)))
				c.cmd(".", "250")
				c.cmd("QUIT", "221")
			}()
		}
		wg.Wait()
		expectJournaled(t, d, parseIDs(t, files...))
	})
}

// sendMany sends n mails made by mk over SMTP with the given number of
// concurrent clients; each must get a 250.
func sendMany(t *testing.T, d *daemon, n, clients int, mk func(i int) []byte) {
	t.Helper()
	var wg sync.WaitGroup
	work := make(chan int)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := smtp.Dial(d.smtpAddr())
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			for i := range work {
				if err := sendSMTP(c, mk(i)); err != nil {
					t.Errorf("mail %d: %v", i, err)
					return
				}
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
}

// garbage is mail no parser can make sense of, of a few kinds.
func garbage(i int) []byte {
	r := rand.New(rand.NewPCG(uint64(i), 42))
	junk := make([]byte, 200+r.IntN(3000))
	for j := range junk {
		junk[j] = byte(r.IntN(256))
		if junk[j] == '\r' || junk[j] == '\n' || junk[j] == '.' {
			junk[j] = ' '
		}
	}
	switch i % 4 {
	case 0: // no header at all, binary
		return junk
	case 1: // headers, no known source
		return fmt.Appendf(nil, "Subject: junk %d\r\nFrom: nobody@example.org\r\n\r\n%x\r\n", i, junk[:100])
	case 2: // broken MIME
		return fmt.Appendf(nil, "Subject: mime %d\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\nContent-Transfer-Encoding: base64\r\n\r\n--b\r\n%s\r\n", i, junk)
	default: // header lines that are not headers
		return fmt.Appendf(nil, "this is not a header %d\r\n: neither\r\n\r\n%s\r\n", i, junk)
	}
}

// quarantined lists the mails in dir and counts their reason files.
func quarantined(dir string) (mails []string, reasons int) {
	es, _ := os.ReadDir(dir)
	for _, e := range es {
		switch {
		case strings.HasSuffix(e.Name(), ".reason"):
			reasons++
		case strings.HasSuffix(e.Name(), ".tmp"):
			// A reason file being written; it is renamed into place
			// before its mail moves in.
		case e.Type().IsRegular() && !strings.HasPrefix(e.Name(), "."):
			mails = append(mails, e.Name())
		}
	}
	return mails, reasons
}

// expectJournaled waits until every msg_id in want is in the journal.
func expectJournaled(t *testing.T, d *daemon, want []string) {
	t.Helper()
	waitFor(t, 60*time.Second, fmt.Sprintf("%d events in the journal", len(want)), func() bool {
		ids, _, _ := d.journal()
		for _, id := range want {
			if ids[id] != 1 {
				return false
			}
		}
		return true
	})
}

func dotStuff(s string) string {
	lines := strings.SplitAfter(s, "\r\n")
	for i, l := range lines {
		if strings.HasPrefix(l, ".") {
			lines[i] = "." + l
		}
	}
	return strings.Join(lines, "")
}
