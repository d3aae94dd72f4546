//go:build e2e

package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/debian/mailgw/internal/archive"
)

func TestGenerate(t *testing.T) {
	dir := t.TempDir()
	src, err := loadMails("../../testdata/mails")
	if err != nil {
		t.Fatal(err)
	}
	n := 2*len(src) + 7
	a, b, z := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "c.xz")
	for _, out := range []string{a, b} {
		if err := run([]string{"-n", itoa(n), "-o", out, "-mails", "../../testdata/mails", "-seed", "7"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := run([]string{"-n", itoa(n), "-o", z, "-mails", "../../testdata/mails", "-seed", "7", "-xz"}); err != nil {
		t.Fatal(err)
	}
	da, _ := os.ReadFile(a)
	db, _ := os.ReadFile(b)
	if !bytes.Equal(da, db) {
		t.Error("same seed, different output")
	}
	mid := regexp.MustCompile(`(?mi)^Message-ID:\s*(.*)$`)
	for _, p := range []string{a, z} {
		r, err := archive.Open(p, archive.Options{})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		count := 0
		for {
			m, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if count < len(src) && !bytes.Equal(m.Data, bytes.TrimPrefix(stripFrom(src[count]), nil)) {
				t.Errorf("%s: first copy of mail %d changed", p, count)
			}
			id := mid.FindSubmatch(m.Data)
			switch {
			case count < len(src):
				if id != nil {
					seen[string(id[1])] = -1
				}
			case id == nil:
				t.Fatalf("%s: copy %d has no Message-ID", p, count)
			case seen[string(id[1])] < 0:
				t.Errorf("%s: mail %d keeps its original Message-ID %s", p, count, id[1])
			default:
				want := "<mboxgen.7." + itoa(count/len(src)) + "."
				if !bytes.HasPrefix(id[1], []byte(want)) {
					t.Errorf("%s: mail %d: Message-ID %s, want prefix %s", p, count, id[1], want)
				}
				seen[string(id[1])]++
			}
			count++
		}
		r.Close()
		if count != n {
			t.Errorf("%s: %d mails, want %d", p, count, n)
		}
	}
}

func stripFrom(b []byte) []byte {
	if bytes.HasPrefix(b, []byte("From ")) {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			return b[i+1:]
		}
	}
	return b
}

func itoa(n int) string { return string(bytes.TrimSpace([]byte(fmtInt(n)))) }

func fmtInt(n int) string {
	if n == 0 {
		return "0"
	}
	var d []byte
	for ; n > 0; n /= 10 {
		d = append([]byte{byte('0' + n%10)}, d...)
	}
	return string(d)
}
