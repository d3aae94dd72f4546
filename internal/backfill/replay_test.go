package backfill

import (
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/debian/mailgw/bus"
	"github.com/ulikunitz/xz"
)

var update = flag.Bool("update", false, "rewrite testdata/logs.golden")

// TestLogsGolden replays the corpus debbugs .log files in a dry run and
// compares the topic and quarantine counts with testdata/logs.golden.
func TestLogsGolden(t *testing.T) {
	files, _ := filepath.Glob("../archive/testdata/*.log")
	if len(files) != 4 {
		t.Fatalf("want the 4 corpus .log files, found %v", files)
	}
	sort.Strings(files)
	cfg := testConfig(t)
	var b strings.Builder
	for _, f := range files {
		for _, all := range []bool{false, true} {
			s := run(t, Options{Mode: ModeDryRun, Config: cfg, Classifier: newClassifier(cfg), AllRecords: all, Logger: slog.New(slog.DiscardHandler)}, f)
			fmt.Fprintf(&b, "== %s all_records=%v: %d mails, %d filtered, %d events, %d quarantined, %d errors\n",
				filepath.Base(f), all, s.Mails, s.Filtered, s.Events, s.Quarantined, s.Errors)
			b.WriteString(s.Table())
		}
	}
	got := b.String()
	golden := filepath.Join("testdata", "logs.golden")
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		os.WriteFile(golden+".got", []byte(got), 0o644)
		t.Errorf("dry-run summary differs from %s; see %s.got", golden, golden)
	}
}

// TestMboxMatchesMails replays an mbox of every test mail, plain and
// compressed, and a Maildir of them, and expects exactly the msg_ids that classifying each .eml
// on its own gives.
func TestMboxMatchesMails(t *testing.T) {
	_, mails := testMails(t)
	cfg := testConfig(t)
	want := expectedMsgIDs(t, cfg, mails)
	if len(want) < 100 {
		t.Fatalf("only %d events from the test mails", len(want))
	}
	dir := t.TempDir()
	plain := writeArchive(t, dir, "all.mbox", mails, len(mails))
	data, _ := os.ReadFile(plain)
	files := []string{plain}
	for _, kind := range []string{"gzip", "bzip2", "xz"} {
		p := filepath.Join(dir, "all.mbox."+kind)
		if err := os.WriteFile(p, compress(t, kind, data), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	md := filepath.Join(dir, "Maildir")
	for _, sub := range []string{"cur", "new", "tmp"} {
		os.MkdirAll(filepath.Join(md, sub), 0o755)
	}
	for i, m := range mails {
		os.WriteFile(filepath.Join(md, "cur", fmt.Sprintf("%05d.mboxgen:2,S", i)), m, 0o644)
	}
	files = append(files, md)
	for _, f := range files {
		var got []string
		replayed := true
		s := run(t, Options{Mode: ModeDryRun, Config: cfg, Classifier: newClassifier(cfg), Logger: slog.New(slog.DiscardHandler),
			Observe: func(env *bus.Envelope, added bool) {
				got = append(got, env.MsgID)
				replayed = replayed && env.Msg["mailgw"].(map[string]any)["replayed"] == true
			}}, f)
		if !slices.Equal(got, want) {
			t.Errorf("%s: %d msg_ids, want the %d of the .eml files", filepath.Base(f), len(got), len(want))
		}
		if !replayed {
			t.Errorf("%s: an envelope without msg.mailgw.replayed = true", f)
		}
		if s.Mails != len(mails) || s.Events != len(want) || s.Errors != 0 {
			t.Errorf("%s: summary %v", f, s.String())
		}
	}
}

func compress(t *testing.T, kind string, data []byte) []byte {
	var b bytes.Buffer
	switch kind {
	case "gzip":
		w := gzip.NewWriter(&b)
		w.Write(data)
		w.Close()
	case "xz":
		w, _ := xz.NewWriter(&b)
		w.Write(data)
		w.Close()
	case "bzip2":
		cmd := exec.Command("bzip2", "-c")
		cmd.Stdin = bytes.NewReader(data)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("bzip2: %v", err)
		}
		return out
	}
	return b.Bytes()
}
