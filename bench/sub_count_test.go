//go:build e2e

package bench

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// pubScript binds a pyzmq PUB socket, starts sub_count.py on it, sends the
// messages of the test (a JSON list of [topic, body] pairs, and a bare
// string for a one-frame message) and prints the subscriber's result.
const pubScript = `
import json, subprocess, sys, zmq
msgs = json.loads(sys.argv[1])
ctx = zmq.Context()
p = ctx.socket(zmq.XPUB)  # a PUB that shows the subscription
p.setsockopt(zmq.RCVTIMEO, 30000)
port = p.bind_to_random_port("tcp://127.0.0.1")
sub = subprocess.Popen(["/usr/bin/python3", "bench/sub_count.py", "tcp://127.0.0.1:%d" % port, "--idle", "0.5"],
                       stdout=subprocess.PIPE, text=True)
assert sub.stdout.readline().strip() == "ready"
p.recv()  # the subscription has reached the publisher: nothing sent now is dropped
for m in msgs:
    if isinstance(m, str):
        p.send(m.encode())
    else:
        p.send_multipart([m[0].encode(), m[1].encode()])
print(sub.stdout.readline().strip())
`

// TestSubCountChecks: the counting subscriber of the end-to-end row
// counts a well-formed signed envelope (the keys in canonical order, the
// envelope's msg_id after msg.mailgw's copy) and rejects a wrong topic
// frame, a missing signature, another crypto, a truncated body and a
// one-frame message; a repeated msg_id is counted but not distinct.
func TestSubCountChecks(t *testing.T) {
	const topic = "org.debian.dev.dak.package.upload"
	body := func(id string) string {
		return `{"crypto":"gpg","i":1,"msg":{"mailgw":{"msg_id":"2026-inner","topic":"` + topic +
			`"},"source":"hello"},"msg_id":"` + id + `","seq_id":1,"signature":"iHUEABYIAB0WIQ==","timestamp":1790000000,"topic":"` +
			topic + `","username":"mailgw"}`
	}
	good := body("2026-a")
	msgs := []any{
		[]string{topic, good},
		[]string{topic, body("2026-b")},
		[]string{topic, good}, // counted, not distinct
		[]string{"org.debian.dev.dak.package.other", good},
		[]string{topic, strings.Replace(good, `"signature":`, `"signaturX":`, 1)},
		[]string{topic, strings.Replace(good, `{"crypto":"gpg"`, `{"crypto":"x509"`, 1)},
		[]string{topic, good[:len(good)-40]},
		"one frame",
	}
	arg, _ := json.Marshal(msgs)
	cmd := exec.Command("/usr/bin/python3", "-c", pubScript, string(arg))
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var res struct{ Count, Distinct, Bad int }
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if res.Count != 8 || res.Distinct != 2 || res.Bad != 5 {
		t.Fatalf("count %d, distinct %d, bad %d; want 8, 2, 5", res.Count, res.Distinct, res.Bad)
	}
}
