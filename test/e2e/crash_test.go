//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/smtp"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/journal"
)

// mailTemplate returns a corpus mail whose Message-ID can be replaced, so
// that every copy is a distinct mail with its own events.
func mailTemplate(t testing.TB, name string) func(id string) []byte {
	t.Helper()
	raw, err := os.ReadFile(corpus(name))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?mi)^Message-ID:[^\n]*\n`)
	if !re.Match(raw) {
		t.Fatalf("%s has no Message-ID", name)
	}
	raw = bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n"))
	return func(id string) []byte {
		m := re.ReplaceAll(raw, []byte("Message-ID: <"+id+">\n"))
		return bytes.ReplaceAll(m, []byte("\n"), []byte("\r\n"))
	}
}

// sendSMTP sends one mail on c; nil means the server said 250 to DATA.
func sendSMTP(c *smtp.Client, mail []byte) error {
	if err := c.Mail("sender@example.org"); err != nil {
		return err
	}
	if err := c.Rcpt("mailgw@localhost"); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(mail); err != nil {
		return err
	}
	return w.Close()
}

// TestCrashSafety streams 2,000 mails over SMTP while serve is killed
// with SIGKILL at random moments and restarted. A mail that did not get
// its 250 is sent again. In the end every mail that got a 250 has its
// events in the journal, each once, with no seq_id gap.
func TestCrashSafety(t *testing.T) {
	const total, senders = 2000, 8
	d := newDaemon(t)
	d.start()
	tmpl := mailTemplate(t, "100-report-476920-xulrunner-FTBFS-sparc.eml")
	mailDir := t.TempDir()

	next := atomic.Int64{}
	acked := make([]bool, total)
	var mu sync.Mutex // guards d's process while the killer restarts it
	done := make(chan struct{})
	var kills, retries atomic.Int64

	killerDone := make(chan struct{})
	go func() {
		defer close(killerDone)
		r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
		for {
			select {
			case <-done:
				return
			case <-time.After(time.Duration(50+r.IntN(400)) * time.Millisecond):
			}
			mu.Lock()
			d.kill()
			kills.Add(1)
			d.start()
			mu.Unlock()
		}
	}()

	var wg sync.WaitGroup
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var c *smtp.Client
			defer func() {
				if c != nil {
					c.Close()
				}
			}()
			for {
				i := int(next.Add(1) - 1)
				if i >= total {
					return
				}
				mail := tmpl(fmt.Sprintf("crash-%04d@e2e.test", i))
				giveUp := time.Now().Add(90 * time.Second)
				for {
					if time.Now().After(giveUp) {
						t.Errorf("mail %d: no 250 within 90s", i)
						return
					}
					if c == nil {
						var err error
						if c, err = smtp.Dial(d.smtpAddr()); err != nil {
							c = nil
							time.Sleep(20 * time.Millisecond)
							continue
						}
					}
					if err := sendSMTP(c, mail); err != nil {
						retries.Add(1)
						c.Close()
						c = nil
						continue
					}
					acked[i] = true
					break
				}
				if err := os.WriteFile(filepath.Join(mailDir, fmt.Sprintf("%04d.eml", i)), mail, 0o644); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	<-killerDone
	t.Logf("%d mails, %d SIGKILLs, %d transactions retried", total, kills.Load(), retries.Load())
	if kills.Load() == 0 {
		t.Fatal("serve was never killed; the test proved nothing")
	}

	var files []string
	for i, ok := range acked {
		if !ok {
			t.Fatalf("mail %d never acknowledged", i)
		}
		files = append(files, filepath.Join(mailDir, fmt.Sprintf("%04d.eml", i)))
	}
	waitFor(t, 120*time.Second, "the spool to drain", d.spoolEmpty)
	d.stop()

	want := parseIDs(t, files...)
	ids, maxSeq, rows := d.journal()
	for _, id := range want {
		if ids[id] != 1 {
			t.Errorf("event %s journaled %d times, want 1", id, ids[id])
		}
	}
	if len(ids) != len(want) || rows != len(want) {
		t.Errorf("journal holds %d rows, %d distinct msg_ids; want %d", rows, len(ids), len(want))
	}
	if maxSeq != int64(rows) {
		t.Errorf("seq_ids have gaps: max %d for %d rows", maxSeq, rows)
	}
	checkBodies(t, filepath.Join(d.state, "journal.sqlite"), maxSeq, ids)
}

// checkBodies reads every journaled body back (from the bodies file, each
// checked against its CRC): 1..maxSeq are there, each is the envelope of
// its seq_id and of a journaled msg_id, whatever the kills interrupted.
func checkBodies(t *testing.T, path string, maxSeq int64, ids map[string]int) {
	t.Helper()
	j, err := journal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	bodies, err := j.BySeqRange(1, maxSeq, int(maxSeq))
	if err != nil || int64(len(bodies)) != maxSeq {
		t.Fatalf("reading the bodies back: %d of %d, %v", len(bodies), maxSeq, err)
	}
	for i, b := range bodies {
		env, err := bus.ParseEnvelope(b)
		if err != nil || env.SeqID != int64(i+1) || ids[env.MsgID] != 1 {
			t.Fatalf("body of seq_id %d: seq_id %d, msg_id %q, %v", i+1, env.SeqID, env.MsgID, err)
		}
	}
}
