//go:build e2e

package archive

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"
)

func TestCompressedFormats(t *testing.T) {
	want := mkMails(50)
	mbox := writeMbox(t, want)
	logData, err := os.ReadFile("testdata/debbugs-spool-log-563-tar-archived-1997.log")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, kind := range []string{"plain", "gzip", "bzip2", "xz"} {
		// A misleading name: detection must go by content.
		p := filepath.Join(dir, kind+".txt")
		if err := os.WriteFile(p, compress(t, kind, mbox), 0o644); err != nil {
			t.Fatal(err)
		}
		got, skipped, fatal, format := openAll(t, p)
		wantFormat := "mboxrd"
		if kind != "plain" {
			wantFormat += "+" + kind
		}
		if fatal != nil || skipped != nil || len(got) != len(want) || format != wantFormat {
			t.Fatalf("%s: %d mails, format %q, errors %v %v", kind, len(got), format, fatal, skipped)
		}
		for i := range want {
			if !bytes.Equal(got[i].Data, want[i]) {
				t.Errorf("%s: mail %d differs", kind, i)
			}
		}
		lp := filepath.Join(dir, kind+".log.bin")
		os.WriteFile(lp, compress(t, kind, logData), 0o644)
		if mails, _, fatal, _ := openAll(t, lp); len(mails) != 6 || fatal != nil {
			t.Errorf("%s .log: %d mails, %v", kind, len(mails), fatal)
		}
	}
}

// TestTruncatedStreams cuts compressed archives: the mails before the cut
// are returned, then a fatal error naming the file and an offset at or
// before the cut.
func TestTruncatedStreams(t *testing.T) {
	// Bodies of pseudo-random hex, so that xz (which decodes whole LZMA2
	// chunks of up to 2 MiB) sees many chunks before the cut.
	want := mkMails(400)
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range want {
		for range 40 {
			want[i] = fmt.Appendf(want[i], "%016x%016x%016x\n", rnd.Uint64(), rnd.Uint64(), rnd.Uint64())
		}
	}
	mbox := writeMbox(t, want)
	dir := t.TempDir()
	for _, kind := range []string{"gzip", "xz", "bzip2"} {
		z := compress(t, kind, mbox)
		p := filepath.Join(dir, "cut-"+kind)
		os.WriteFile(p, z[:len(z)*2/3], 0o644)
		got, _, fatal, _ := openAll(t, p)
		if fatal == nil {
			t.Fatalf("%s: no error for a truncated stream", kind)
		}
		if !strings.Contains(fatal.Error(), p) || !strings.Contains(fatal.Error(), fmt.Sprintf("byte offset %d", fatal.Offset)) || !strings.Contains(fatal.Error(), kind) {
			t.Errorf("%s: error %q does not name file, offset and compression", kind, fatal)
		}
		if len(got) < 100 {
			t.Errorf("%s: only %d mails before the cut", kind, len(got))
		}
		for i, m := range got {
			if !bytes.Equal(m.Data, want[i]) {
				t.Fatalf("%s: mail %d differs", kind, i)
			}
		}
		if len(got) > 0 && (fatal.Index != len(got) || fatal.Offset < got[len(got)-1].Offset) {
			t.Errorf("%s: error at mail %d offset %d after %d mails", kind, fatal.Index, fatal.Offset, len(got))
		}
		// corrupt the middle instead of cutting
		bad := bytes.Clone(z)
		for i := len(bad) / 2; i < len(bad)/2+64; i++ {
			bad[i] ^= 0x5a
		}
		os.WriteFile(p, bad, 0o644)
		if _, _, fatal, _ := openAll(t, p); fatal == nil {
			t.Errorf("%s: no error for a corrupt stream", kind)
		}
	}
}

// compress returns data compressed with kind: gzip and xz in Go, bzip2
// with the system bzip2 command (Go has no bzip2 writer).
// bzip2 decodes whole blocks: a cut file yields the blocks before the cut.
func compress(t *testing.T, kind string, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	switch kind {
	case "gzip":
		w := gzip.NewWriter(&b)
		w.Write(data)
		w.Close()
	case "xz":
		w, err := xz.NewWriter(&b)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		w.Close()
	case "bzip2":
		cmd := exec.Command("bzip2", "-1", "-c") // 100k blocks
		cmd.Stdin = bytes.NewReader(data)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("bzip2: %v", err)
		}
		return out
	default:
		return data
	}
	return b.Bytes()
}
