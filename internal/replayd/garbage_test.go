package replayd

import (
	"context"
	"errors"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/debian/mailgw/bus/zmtp"
	"github.com/debian/mailgw/bus/zmtp/zmtptest"
)

// maxGarbageAlloc bounds the heap allocated while one side is fed every
// hostile case: far below the sizes announced (64 GiB, 2^63).
const maxGarbageAlloc = 256 << 20

func totalAlloc() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}

// TestClientGarbage: the REQ client (under tail's gap filler) facing a
// hostile replay endpoint gets an error for every case — a timeout for
// the stalls — never a crash, and allocates nothing near the sizes
// announced.
func TestClientGarbage(t *testing.T) {
	ln, err := zmtp.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ep := zmtp.EndpointOf(ln.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cases := zmtptest.Cases(zmtp.Rep)
	go func() {
		for _, c := range cases {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			zmtptest.Play(ctx, conn, c)
			if c.Stall {
				io.Copy(io.Discard, conn) // until the client gives up
			}
			conn.Close()
		}
	}()
	before := totalAlloc()
	for _, c := range cases {
		_, err := query(ctx, ep, SeqRange(1, 2), 300*time.Millisecond)
		if err == nil {
			t.Errorf("%s: the client accepted a reply", c.Name)
		}
		if c.Stall && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: %v, want a timeout", c.Name, err)
		}
	}
	if n := totalAlloc() - before; n > maxGarbageAlloc {
		t.Errorf("the client allocated %d MiB for the garbage", n>>20)
	}
}
