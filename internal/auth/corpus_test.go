package auth

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/debian/mailgw/internal/auth/authtest"
	"github.com/debian/mailgw/parsers"
)

var update = flag.Bool("update", false, "rewrite testdata/corpus-offline.golden")

// The real DKIM-signed mails of the golden corpus, checked with no DNS
// server reachable: every signature is read (domain, selector) and gives
// temperror; mails without one list none. Nothing crashes, nothing is
// trusted.
func TestCorpusOffline(t *testing.T) {
	files, err := filepath.Glob("../../testdata/mails/*.eml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	tc := trustConfig(authtest.ClosedAddr(t))
	tc.Dak.DKIMDomains = []string{"ftp-master.debian.org"}
	tc.Debbugs.DKIMDomains = []string{"bugs.debian.org"}
	v := newVerifier(t, tc)
	var b strings.Builder
	signed := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := parsers.ReadMessage(raw)
		if err != nil {
			continue
		}
		d := v.Check(m, Intake{}, debbugsEvents)
		if d.Trusted {
			t.Errorf("%s: trusted offline: %+v", f, d)
		}
		if len(d.DKIM) == 0 {
			continue
		}
		signed++
		fmt.Fprintf(&b, "%s", filepath.Base(f))
		for _, s := range d.DKIM {
			if s.Result != ResultTempError || s.Domain == "" || s.Selector == "" {
				t.Errorf("%s: %+v", f, s)
			}
			fmt.Fprintf(&b, " %s/%s=%s", s.Domain, s.Selector, s.Result)
		}
		b.WriteString("\n")
	}
	if signed < 20 {
		t.Errorf("only %d signed mails found", signed)
	}
	golden := "testdata/corpus-offline.golden"
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if string(want) != b.String() {
		t.Errorf("offline results differ from %s (run with -update and read the diff):\n%s", golden, b.String())
	}
}
