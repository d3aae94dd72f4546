package main

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/debian/mailgw/internal/archive"
	"github.com/debian/mailgw/internal/auth"
	"github.com/debian/mailgw/internal/auth/authtest"
	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/parsers"
)

// -dkim-key signs again the mails that were DKIM-signed, copies included:
// every signature then passes against the key record mboxgen wrote, and
// the others are unsigned as before.
func TestDKIMKey(t *testing.T) {
	dir := t.TempDir()
	src, err := loadMails("../../testdata/mails")
	if err != nil {
		t.Fatal(err)
	}
	key, out := filepath.Join(dir, "dkim.pem"), filepath.Join(dir, "signed.mbox")
	if err := run([]string{"-n", strconv.Itoa(2 * len(src)), "-o", out, "-mails", "../../testdata/mails", "-dkim-key", key}); err != nil {
		t.Fatal(err)
	}
	rec, err := os.ReadFile(key + ".record")
	if err != nil {
		t.Fatal(err)
	}
	dns := authtest.StartDNS(t)
	for _, d := range []string{"bugs.debian.org/smtpauto.buxtehude", "ftp-master.debian.org/smtpauto.fasolo", "ftp-master.debian.org/smtpauto.usper"} {
		domain, sel, _ := strings.Cut(d, "/")
		dns.Set(authtest.KeyName(domain, sel), strings.TrimSpace(string(rec)))
	}
	tc := config.Defaults().Trust
	tc.DNSResolver = dns.Addr
	v, err := auth.New(tc, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := archive.Open(out, archive.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	passed := 0
	for {
		m, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		msg, err := parsers.ReadMessage(m.Data)
		if err != nil {
			continue
		}
		d := v.Check(msg, auth.Intake{}, nil)
		if len(d.DKIM) > 1 {
			t.Errorf("mail %d: %d signatures, want the one made afresh", m.Index, len(d.DKIM))
		}
		for _, s := range d.DKIM {
			if strings.HasSuffix(s.Domain, "debian.org") && s.Result != auth.ResultPass {
				t.Errorf("mail %d: %s/%s %s %s", m.Index, s.Domain, s.Selector, s.Result, s.Reason)
			}
			if s.Result == auth.ResultPass {
				passed++
			}
		}
	}
	if passed < 40 {
		t.Errorf("only %d signatures pass", passed)
	}
}
