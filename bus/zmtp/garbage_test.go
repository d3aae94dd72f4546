package zmtp_test

import (
	"bufio"
	"bytes"
	"runtime"
	"testing"

	"github.com/debian/mailgw/bus/zmtp"
	"github.com/debian/mailgw/bus/zmtp/zmtptest"
)

// TestHostileCases reads every hostile peer of zmtptest as a SUB socket
// would (handshake, then messages up to a 64 MiB bound): each one ends
// in an error, and none costs more than a few MiB of allocation.
func TestHostileCases(t *testing.T) {
	for _, c := range zmtptest.Cases(zmtp.Pub) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		r := bufio.NewReader(bytes.NewReader(c.Bytes))
		_, err := zmtp.ReadHandshake(r, zmtp.Sub)
		for err == nil {
			_, _, err = zmtp.ReadMessage(r, 64<<20)
		}
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; n > 8<<20 {
			t.Errorf("%s: allocated %d bytes for %d bytes of input", c.Name, n, len(c.Bytes))
		}
		t.Logf("%s: %v", c.Name, err)
	}
	if len(zmtptest.Cases(zmtp.Sub)) < 20 {
		t.Fatal("too few hostile cases")
	}
}
