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
	"sort"
	"strings"
	"testing"

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
