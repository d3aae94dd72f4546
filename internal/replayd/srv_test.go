package replayd

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/debian/mailgw/bus/zmtp"
	"github.com/miekg/dns"
)

// startDNS serves a tiny zone on a free loopback UDP port: two SRV
// records for example.org (targets with trailing dots), an empty answer
// for empty.example and NXDOMAIN for everything else.
func startDNS(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := dns.NewServeMux()
	mux.HandleFunc(".", func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		switch q := req.Question[0]; {
		case q.Name == "_fedmsg._tcp.example.org." && q.Qtype == dns.TypeSRV:
			for _, rr := range []string{
				"_fedmsg._tcp.example.org. 60 IN SRV 0 0 9940 relay.example.org.",
				"_fedmsg._tcp.example.org. 60 IN SRV 10 5 9941 relay2.example.org.",
			} {
				r, err := dns.NewRR(rr)
				if err != nil {
					t.Error(err)
				}
				m.Answer = append(m.Answer, r)
			}
		case q.Name == "_fedmsg._tcp.empty.example.":
		default:
			m.Rcode = dns.RcodeNameError
		}
		w.WriteMsg(m)
	})
	srv := &dns.Server{PacketConn: pc, Handler: mux}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String()
}

func TestDiscoverSRV(t *testing.T) {
	addr := startDNS(t)
	r := &DNSResolver{Servers: []string{addr}, Timeout: 5 * time.Second}
	got, err := DiscoverSRV(context.Background(), r, []string{"example.org", "nx.example.net", "empty.example", "example.org."})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"tcp://relay.example.org.:9940", "tcp://relay2.example.org.:9941"}
	if !slices.Equal(got["example.org"], want) || !slices.Equal(got["example.org."], want) {
		t.Fatalf("got %v", got)
	}
	if len(got) != 2 {
		t.Fatalf("NXDOMAIN or empty domain not skipped: %v", got)
	}
	if _, err := r.LookupSRV(context.Background(), "_fedmsg._tcp.nx.example.net"); !errors.Is(err, ErrNXDomain) {
		t.Fatalf("NXDOMAIN: %v", err)
	}
	// The discovered endpoint form is one the bus can dial.
	if _, a, err := zmtp.SplitEndpoint(want[0]); err != nil || a != "relay.example.org.:9940" {
		t.Fatalf("endpoint %q: %q %v", want[0], a, err)
	}
}

// TestDiscoverSRVTimeout: a name server that never answers makes the
// domain be skipped, not the discovery fail.
func TestDiscoverSRVTimeout(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	r := &DNSResolver{Servers: []string{pc.LocalAddr().String()}, Timeout: 100 * time.Millisecond}
	got, err := DiscoverSRV(context.Background(), r, []string{"example.org"})
	if err != nil || len(got) != 0 {
		t.Fatalf("got %v, %v", got, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := DiscoverSRV(ctx, r, []string{"example.org"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}
