package dnsq_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/debian/mailgw/internal/auth/authtest"
	"github.com/debian/mailgw/internal/dnsq"
)

func TestTXT(t *testing.T) {
	srv := authtest.StartDNS(t)
	big := strings.Repeat("k", 16<<10)
	srv.Set("small.example", "v=DKIM1; p=abc")
	srv.Set("big.example", big)
	c := &dnsq.Client{Servers: []string{srv.Addr}, Timeout: 2 * time.Second}
	ctx := context.Background()

	txts, ttl, err := c.TXT(ctx, "small.example")
	if err != nil || len(txts) != 1 || txts[0] != "v=DKIM1; p=abc" || ttl != 300*time.Second {
		t.Fatalf("small: %q %v %v", txts, ttl, err)
	}
	// 16 KiB do not fit a datagram: the truncated answer is asked again
	// over TCP, and the strings of the record are joined.
	txts, _, err = c.TXT(ctx, "big.example")
	if err != nil || len(txts) != 1 || txts[0] != big {
		t.Fatalf("big: %d records, %v", len(txts), err)
	}
	if _, _, err := c.TXT(ctx, "nx.example"); !errors.Is(err, dnsq.ErrNXDomain) || dnsq.IsTemporary(err) {
		t.Fatalf("NXDOMAIN: %v", err)
	}
	srv.SetMode(authtest.ServFail)
	if _, _, err := c.TXT(ctx, "small.example"); !dnsq.IsTemporary(err) {
		t.Fatalf("SERVFAIL: %v", err)
	}
	srv.SetMode(authtest.WrongQuestion)
	if _, _, err := c.TXT(ctx, "small.example"); !dnsq.IsTemporary(err) || !strings.Contains(err.Error(), "another question") {
		t.Fatalf("wrong question: %v", err)
	}
	down := &dnsq.Client{Servers: []string{authtest.ClosedAddr(t)}, Timeout: time.Second}
	if _, _, err := down.TXT(ctx, "small.example"); !dnsq.IsTemporary(err) {
		t.Fatalf("server down: %v", err)
	}
	if _, _, err := (&dnsq.Client{}).TXT(ctx, "small.example"); !dnsq.IsTemporary(err) {
		t.Fatalf("no server: %v", err)
	}
}
