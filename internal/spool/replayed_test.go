package spool

import (
	"bytes"
	"testing"
)

// TestDeliverReplayed: the replayed mark is in the name only (the bytes
// are the mail's), Deliver's names lack it, and a quarantined mail keeps
// it when re-queued.
func TestDeliverReplayed(t *testing.T) {
	s := newSpool(t)
	mail := []byte("From: a@example.org\nSubject: x\n\nbody\n")
	name, err := s.DeliverReplayed(bytes.NewReader(mail), 0)
	if err != nil {
		t.Fatal(err)
	}
	if !OriginOf(name).Replayed {
		t.Fatalf("DeliverReplayed named the mail %q, without %q", name, ReplayedSuffix)
	}
	got, err := s.Read(name)
	if err != nil || !bytes.Equal(got, mail) {
		t.Fatalf("Read(%s) = %q, %v; want the mail unchanged", name, got, err)
	}
	plain, err := s.Deliver(bytes.NewReader(mail), 0)
	if err != nil {
		t.Fatal(err)
	}
	if OriginOf(plain).Replayed {
		t.Fatalf("Deliver's name %q is marked replayed", plain)
	}
	if err := s.Quarantine(name, "test"); err != nil {
		t.Fatal(err)
	}
	if err := s.Requeue(name); err != nil {
		t.Fatal(err)
	}
	pending, err := s.Pending()
	if err != nil {
		t.Fatal(err)
	}
	requeued := 0
	for _, n := range pending {
		if OriginOf(n).Replayed {
			requeued++
		}
	}
	if requeued != 1 || len(pending) != 2 {
		t.Fatalf("after re-queue: pending %v, want the replayed mail and the other", pending)
	}
}
