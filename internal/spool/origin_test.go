package spool

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
)

// The Origin rides in the name: it reads back as written, the mail's
// bytes stay as they were, and nothing a sender chooses (the envelope
// sender given to deliver) can add a field.
func TestOrigin(t *testing.T) {
	s := newSpool(t)
	mail := []byte("From: a@example.org\nSubject: x\n\nbody\n")
	for _, o := range []Origin{
		{},
		{Relay: netip.MustParseAddr("192.0.2.1")},
		{Relay: netip.MustParseAddr("2001:db8::25")},
		{Relay: netip.MustParseAddr("::ffff:192.0.2.1")},
		{Sender: "owner@bugs.debian.org"},
		{Sender: "x,C10.1.2.3,A,R/../..%00\x00@evil.example"},
		{Replayed: true, TrustArchive: true},
		{Replayed: true},
		{Relay: netip.MustParseAddr("10.0.0.1"), Sender: "a+b=c@d.example", TrustArchive: true, Replayed: true},
	} {
		name, err := s.DeliverFrom(bytes.NewReader(mail), 0, o)
		if err != nil {
			t.Fatal(err)
		}
		want := o
		want.Relay = o.Relay.Unmap()
		if got := OriginOf(name); got != want {
			t.Errorf("%q: origin %+v, want %+v", name, got, want)
		}
		if strings.ContainsAny(name, "/\x00") || len(name) > maxName || checkName(name) != nil {
			t.Errorf("bad name %q", name)
		}
		if OriginOf(name).Replayed != o.Replayed {
			t.Errorf("%q: IsReplayed %v", name, OriginOf(name).Replayed)
		}
		if got, err := s.Read(name); err != nil || !bytes.Equal(got, mail) {
			t.Errorf("%q: mail changed: %q %v", name, got, err)
		}
	}
	// A sender too long for a file name is left out, the rest kept.
	long := strings.Repeat("%", 200) + "@example.org"
	name, err := s.DeliverFrom(bytes.NewReader(mail), 0, Origin{Sender: long, Replayed: true})
	if err != nil {
		t.Fatal(err)
	}
	if o := OriginOf(name); o.Sender != "" || !o.Replayed || len(name) > maxName {
		t.Errorf("long sender: %q %+v", name, o)
	}
	// Names written by others (an MTA delivering into the Maildir) carry
	// no facts; junk fields are ignored.
	for _, n := range []string{"1733140000.V801I123M456.host", "1.2.host,S=1234,W=1300", "1.2.h,Cnot-an-address,F%zz,Ax,Rx"} {
		if o := OriginOf(n); o != (Origin{}) {
			t.Errorf("%q: %+v", n, o)
		}
	}
}
