//go:build e2e

package replayd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/debian/mailgw/bus/zmtp"
	"github.com/debian/mailgw/bus/zmtp/zmtptest"
)

// TestServerGarbage throws every hostile peer at a live replay endpoint:
// it hangs up on each (stalled handshakes after the timeout), allocates
// nothing near the sizes announced, and then answers a real libzmq REQ.
func TestServerGarbage(t *testing.T) {
	old := handshakeTimeout
	handshakeTimeout = 200 * time.Millisecond
	defer func() { handshakeTimeout = old }()
	s := startServer(t, newFakeStore(5), 10)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	before := totalAlloc()
	for _, c := range zmtptest.Cases(zmtp.Req) {
		conn, err := zmtptest.Throw(ctx, s.Addr(), c)
		if err != nil {
			t.Errorf("%s: %v", c.Name, err)
		}
		if conn == nil {
			continue
		}
		// A stalled handshake is cut; a handshaken client half-way
		// through a request may wait (a REQ may be slow to ask).
		if c.Name != "stall in a frame" {
			conn.SetReadDeadline(time.Now().Add(30 * time.Second))
			var ne net.Error
			if _, err := io.Copy(io.Discard, conn); errors.As(err, &ne) && ne.Timeout() {
				t.Errorf("%s: the endpoint did not cut the stalled handshake", c.Name)
			}
		}
		conn.Close()
	}
	if n := totalAlloc() - before; n > maxGarbageAlloc {
		t.Errorf("the endpoint allocated %d MiB for the garbage", n>>20)
	}
	cmd := exec.Command("/usr/bin/python3", "../../test/python/replay_req.py", s.Addr())
	cmd.Stdin = strings.NewReader(`["{\"seq_id_range\":[2,3]}"]` + "\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("replay_req.py after the garbage: %v\n%s", err, stderr.String())
	}
	var r pyReply
	if err := json.Unmarshal(out, &r); err != nil || len(r.Frames) != 2 || !r.EnvelopesOK {
		t.Fatalf("libzmq REQ after the garbage: %s (%v)", out, err)
	}
}
