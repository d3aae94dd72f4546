//go:build e2e

package bench

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// wantRows are the table rows every run must have (prefixes of the names).
var wantRows = []string{
	"parse only, 1 core",
	"replay --dry-run",
	"sign only, Ed25519",
	"sign only, RSA-3072",
	"publish 4 KiB, mailgw PUB",
	"publish 4 KiB, libzmq (pyzmq)",
	"end to end: replay --publish",
	"end to end: events/s",
	"end to end: peak RSS",
	"libzmq (pyzmq) PUB -> SUB of the same envelopes",
	"reference: email+python-debian+gpg+pyzmq",
	"reference: events/s",
	"ratio: end to end / reference",
	"ratio: end to end / libzmq",
	"DKIM check, RSA-2048 key cached",
	"replay --publish, DKIM checked",
	"replay --publish, DKIM not checked",
	"ratio: DKIM checked / not checked",
	"SMTP ingest",
	"SMTP 250 -> bus",
	"SMTP, corpus mix, 50 clients",
	"SMTP, corpus mix: drain",
	"SMTP, corpus mix: reference, go-smtp alone",
	"SMTP, corpus mix: reference, go-smtp + mailgw's spool",
	"ratio: SMTP corpus mix, serve / go-smtp + spool",
	"ratio: SMTP corpus mix, serve / go-smtp alone",
	"mailgw deliver",
	"replay into a running serve",
	"AMQP: outlet publishing with confirms",
	"AMQP: python3-pika",
	"ratio: AMQP outlet / pika",
	"replay --publish (",
	"ratio: replay --publish with AMQP / without",
	"/v2/search, topic, one page",
	"/v2/search, package, one page",
}

// row is one row of bench/out/results.json.
type row struct {
	Name  string    `json:"name"`
	Value *float64  `json:"value"`
	OK    *bool     `json:"ok"`
	Note  string    `json:"note"`
	Runs  any       `json:"runs"`
	Samp  []float64 `json:"samples"`
}

// TestRunQuick runs "bench/run.sh --quick" (real programs: mailgw, a
// python3-zmq subscriber, gpg, smtp-source) into a temp dir and checks
// that the table has every row with a measured value, that nothing
// failed, and that both the end-to-end replay and the reference delivered
// every event to the subscriber. Speed targets are not asserted here (a
// one-run smoke test on a shared machine); the full run reports them.
func TestRunQuick(t *testing.T) {
	out := t.TempDir()
	cmd := exec.Command("./run.sh", "--quick", "--out", out)
	cmd.Env = append(os.Environ(), "PATH=/usr/local/go/bin:"+os.Getenv("PATH"))
	stdout, err := cmd.Output()
	if err != nil {
		logs, _ := os.ReadFile(filepath.Join(out, "logs", "errors.log"))
		t.Fatalf("run.sh --quick: %v\n%s\n%s", err, stdout, logs)
	}
	table := string(stdout)
	data, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res struct{ Rows []row }
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatal(err)
	}
	for _, want := range wantRows {
		var r *row
		for i := range res.Rows {
			if strings.HasPrefix(res.Rows[i].Name, want) {
				r = &res.Rows[i]
			}
		}
		switch {
		case r == nil:
			t.Errorf("row %q missing from the table:\n%s", want, table)
		case r.Value == nil:
			t.Errorf("row %q has no measured value: %+v", want, *r)
		case *r.Value <= 0 && !strings.Contains(want, "drain"):
			// A drain is 0 or below when the last event reached the
			// subscriber before the client read the last 250.
			t.Errorf("row %q has no measured value: %+v", want, *r)
		case strings.Contains(r.Note, "FAILED") || strings.Contains(r.Note, "LOST"):
			t.Errorf("row %q: %s", want, r.Note)
		case !strings.Contains(table, r.Name):
			t.Errorf("row %q is in results.json but not in the printed table", r.Name)
		}
		if r != nil && (want == "end to end: replay --publish" || want == "reference: email+python-debian+gpg+pyzmq" ||
			want == "SMTP, corpus mix, 50 clients") &&
			!strings.Contains(r.Note, "received") {
			t.Errorf("row %q does not say every event was received: %s", want, r.Note)
		}
	}
}
