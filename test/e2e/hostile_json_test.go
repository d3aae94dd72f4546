//go:build e2e

package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHostileDuplicateKeys (issue 14, item 12): an envelope with a
// second "msg" key (an attacker's first, the signed one last: Go's and
// Python's decoders keep the last copy, so its signature checks out) is
// invalid for "mailgw verify" and dropped by "mailgw tail" (published by
// a real pyzmq publisher), and the replay endpoint refuses a request with
// a repeated key; the untouched envelope passes all three.
func TestHostileDuplicateKeys(t *testing.T) {
	d := newDaemon(t)
	d.start()
	d.sendCorpus(t, "dup", 1)
	frames := d.replayQuery(t, `{"seq_id": 1}`)
	if len(frames) != 1 {
		t.Fatalf("replay of seq_id 1: %q", frames)
	}
	good := frames[0]
	evil := `{"msg":{"bug":1,"title":"attacker's text"},` + strings.TrimPrefix(good, "{")
	dir := t.TempDir()
	pub := filepath.Join(d.state, "keys", "dev-signing.pub.asc")
	verify := func(env string) (int, string) {
		p := filepath.Join(dir, "env.json")
		os.WriteFile(p, []byte(env), 0o644)
		out, err := exec.Command(mailgw, "verify", "--keyring", pub, p).CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		}
		return 0, string(out)
	}
	if code, out := verify(good); code != 0 {
		t.Fatalf("verify of the journaled envelope: exit %d\n%s", code, out)
	}
	code, out := verify(evil)
	t.Logf("verify with a duplicate msg key: exit %d: %s", code, strings.TrimSpace(out))
	if code != 1 || !strings.Contains(out, `duplicate key "msg"`) {
		t.Errorf("verify with a duplicate msg key: exit %d, want 1 naming the key:\n%s", code, out)
	}

	// tail, fed by a real libzmq publisher: the duplicate is dropped, the
	// good envelope printed.
	py := exec.Command(python, filepath.Join(repoRoot, "test", "python", "zmq_pub.py"))
	stdin, _ := py.StdinPipe()
	stdout, _ := py.StdoutPipe()
	if err := py.Start(); err != nil {
		t.Fatal(err)
	}
	defer py.Process.Kill()
	lines := bufio.NewScanner(stdout)
	lines.Scan()
	ep := strings.TrimSpace(lines.Text())
	tail := exec.Command(mailgw, "tail", "--endpoint", ep, "--keyring", pub, "--no-gap-fill", "--json", "--count", "1")
	var tailErr syncBuffer
	tail.Stderr = &tailErr
	tailOut, _ := tail.StdoutPipe()
	if err := tail.Start(); err != nil {
		t.Fatal(err)
	}
	defer tail.Process.Kill()
	lines.Scan() // "subscribed"
	topic := "org.debian.dev.debbugs.bug.report"
	fmt.Fprintf(stdin, "[%q, %q]\n[%q, %q]\n", topic, evil, topic, good)
	printed := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(tailOut)
		s.Buffer(nil, 1<<20)
		s.Scan()
		printed <- s.Text()
	}()
	select {
	case got := <-printed:
		// tail prints the envelope it verified, re-encoded.
		var env struct {
			MsgID string `json:"msg_id"`
			Msg   struct {
				Title string `json:"title"`
			} `json:"msg"`
		}
		json.Unmarshal([]byte(got), &env)
		var want struct {
			MsgID string `json:"msg_id"`
		}
		json.Unmarshal([]byte(good), &want)
		if env.MsgID != want.MsgID || env.Msg.Title == "attacker's text" {
			t.Errorf("tail printed %.200q, want the good envelope %s", got, want.MsgID)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("tail printed nothing within 30s\n%s", tailErr.String())
	}
	tail.Wait()
	if !strings.Contains(tailErr.String(), `duplicate key \"msg\"`) && !strings.Contains(tailErr.String(), `duplicate key "msg"`) {
		t.Errorf("tail did not log the refused duplicate:\n%s", tailErr.String())
	}

	// The replay endpoint.
	reply := d.replayQuery(t, `{"seq_id": 1, "seq_id": 2}`)
	t.Logf("replay request with a repeated key: %q", reply)
	if len(reply) != 1 || !strings.HasPrefix(reply[0], `error: 'ambiguous request: duplicate key "seq_id"'`) {
		t.Errorf("replay request with a repeated key: %q, want an error frame", reply)
	}
}
