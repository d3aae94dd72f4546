// Command dkimdns is the DNS server of the DKIM benchmark rows
// (bench/rows.py trust): it answers a TXT query for any
// <selector>._domainkey.<domain> with the record of one key, the key
// cmd/mboxgen -dkim-key signed the benchmark's mails with (the record it
// wrote beside the key), and NXDOMAIN for every other name, over UDP and
// TCP on loopback.
//
//	dkimdns -record FILE [-listen 127.0.0.1:0]
//
// It prints "listening ADDR" once it serves, and "queries N" when its
// standard input closes, then exits.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync/atomic"

	"github.com/miekg/dns"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "dkimdns:", err)
		os.Exit(1)
	}
}

func run() error {
	recFile := flag.String("record", "", "`FILE` holding the DKIM key record (mboxgen -dkim-key KEY writes KEY.record)")
	listen := flag.String("listen", "127.0.0.1:0", "UDP and TCP `ADDR`")
	flag.Parse()
	b, err := os.ReadFile(*recFile)
	if err != nil {
		return err
	}
	record := strings.TrimSpace(string(b))
	pc, err := net.ListenPacket("udp", *listen)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		return err
	}
	var queries atomic.Int64
	var txt []string
	for r := record; len(r) > 0; {
		n := min(len(r), 255)
		txt, r = append(txt, r[:n]), r[n:]
	}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		queries.Add(1)
		m := new(dns.Msg)
		m.SetReply(req)
		if len(req.Question) == 1 && req.Question[0].Qtype == dns.TypeTXT && strings.Contains(req.Question[0].Name, "._domainkey.") {
			m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: req.Question[0].Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 3600}, Txt: txt})
		} else {
			m.Rcode = dns.RcodeNameError
		}
		w.WriteMsg(m)
	})
	for _, s := range []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: ln, Handler: h}} {
		go s.ActivateAndServe()
	}
	fmt.Printf("listening %s\n", pc.LocalAddr())
	io.Copy(io.Discard, os.Stdin)
	fmt.Printf("queries %d\n", queries.Load())
	return nil
}
