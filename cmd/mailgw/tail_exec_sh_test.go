//go:build e2e

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestTailExecEveryMessage: --exec runs its command once per message, in
// order, with the envelope on stdin and MAILGW_TOPIC, MAILGW_MSG_ID and
// MAILGW_SEQ_ID set, although it fails for every third message; each
// failure is logged and the next message goes on.
func TestTailExecEveryMessage(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "ran")
	script := `read -r line
case "$line" in *"\"msg_id\":\"$MAILGW_MSG_ID\""*) stdin=ok ;; *) stdin=bad ;; esac
echo "$MAILGW_SEQ_ID $MAILGW_TOPIC $stdin" >> ` + log + `
[ $((MAILGW_SEQ_ID % 3)) -ne 0 ]`
	cfgPath, _ := busTestKeys(t)
	const n = 10
	pub, wait := runTailAsync(t, "--config", cfgPath, "--no-validate", "--no-gap-fill", "--count", fmt.Sprint(n), "--exec", script)
	var want []string
	for i := 1; i <= n; i++ {
		env := tailEnv(t, fmt.Sprintf("org.debian.dev.logger.log%d", i), fmt.Sprint("message ", i), nil)
		env.SeqID = int64(i)
		if err := pub.Publish(context.Background(), env); err != nil {
			t.Fatal(err)
		}
		want = append(want, fmt.Sprintf("%d org.debian.dev.logger.log%d ok", i, i))
	}
	code, out, errOut := wait()
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if out != "" {
		t.Errorf("tail printed %q besides the command", out)
	}
	raw, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Split(strings.TrimSpace(string(raw)), "\n"); !slices.Equal(got, want) {
		t.Fatalf("the command ran for\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := strings.Count(errOut, "--exec command failed"); got != n/3 {
		t.Errorf("%d failures logged, want %d:\n%s", got, n/3, errOut)
	}
	for _, seq := range []string{"seq_id=3", "seq_id=6", "seq_id=9"} {
		if !strings.Contains(errOut, seq) {
			t.Errorf("failure of %s not logged", seq)
		}
	}
}

// TestTailExecTimeout: a command that outlives --exec-timeout is killed
// with its children, logged, and the next message runs.
func TestTailExecTimeout(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "ran")
	cfgPath, _ := busTestKeys(t)
	script := `echo "$MAILGW_SEQ_ID" >> ` + log + `; if [ "$MAILGW_SEQ_ID" = 1 ]; then sleep 600 & sleep 600; fi`
	pub, wait := runTailAsync(t, "--config", cfgPath, "--no-validate", "--no-gap-fill", "--count", "2", "--exec", script, "--exec-timeout", "1s")
	for i := 1; i <= 2; i++ {
		env := tailEnv(t, "org.debian.dev.logger.log", fmt.Sprint("message ", i), nil)
		env.SeqID = int64(i)
		if err := pub.Publish(context.Background(), env); err != nil {
			t.Fatal(err)
		}
	}
	code, _, errOut := wait()
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if raw, _ := os.ReadFile(log); string(raw) != "1\n2\n" {
		t.Errorf("ran for %q", raw)
	}
	if !strings.Contains(errOut, "killed after its timeout") {
		t.Errorf("timeout not logged: %s", errOut)
	}
}
