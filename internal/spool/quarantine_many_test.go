package spool

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestQuarantineMany: a batch lands in quarantine like one Quarantine per
// mail (the mail, its reason file, nothing left in new/ or as a .tmp),
// and a bad or missing item fails alone.
func TestQuarantineMany(t *testing.T) {
	s := newSpool(t)
	s.QuarantineDir = filepath.Join(t.TempDir(), "q")
	var items []Quarantined
	for i := range 4 {
		mail := fmt.Sprintf("Message-ID: <m%d@example.org>\r\nSubject: s%d\r\n\r\nbody\r\n", i, i)
		name, err := s.Deliver(strings.NewReader(mail), 0)
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, Quarantined{Name: name, Reason: fmt.Sprintf("reason %d", i)})
	}
	items = append(items, Quarantined{Name: "../escape", Reason: "x"}, Quarantined{Name: "gone", Reason: "y"})
	errs := s.QuarantineMany(items)
	if len(errs) != len(items) {
		t.Fatalf("%d errors for %d items", len(errs), len(items))
	}
	for i := range 4 {
		if errs[i] != nil {
			t.Errorf("item %d: %v", i, errs[i])
		}
	}
	if errs[4] == nil || errs[5] == nil {
		t.Errorf("bad name and missing mail: errors %v, %v; want both non-nil", errs[4], errs[5])
	}
	if pend, _ := s.Pending(); len(pend) != 0 {
		t.Errorf("still in new/: %v", pend)
	}
	list, err := s.List()
	if err != nil || len(list) != 4 {
		t.Fatalf("List = %+v, %v; want 4 entries", list, err)
	}
	for i, it := range items[:4] {
		reason, _, err := s.Show(it.Name)
		if err != nil || !strings.Contains(reason, fmt.Sprintf("reason: reason %d\n", i)) ||
			!strings.Contains(reason, fmt.Sprintf("message-id: <m%d@example.org>\n", i)) {
			t.Errorf("%s: reason file %q, %v", it.Name, reason, err)
		}
	}
	ents, _ := os.ReadDir(s.QuarantineDir)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
	if len(ents) != 8 {
		t.Errorf("quarantine holds %d files, want 4 mails + 4 reasons", len(ents))
	}
}

// BenchmarkQuarantine compares one Quarantine per mail with QuarantineMany
// over batches of 64 (the pipeline's batch when garbage streams in).
// Report mails/s.
func BenchmarkQuarantine(b *testing.B) {
	for _, many := range []bool{false, true} {
		name := "one"
		if many {
			name = "many64"
		}
		b.Run(name, func(b *testing.B) {
			s := newSpool(b)
			s.QuarantineDir = filepath.Join(b.TempDir(), "q")
			n := 0
			for b.Loop() {
				b.StopTimer()
				items := make([]Quarantined, 64)
				for i := range items {
					name, err := s.Deliver(strings.NewReader(testMail), 0)
					if err != nil {
						b.Fatal(err)
					}
					items[i] = Quarantined{Name: name, Reason: "no event"}
				}
				b.StartTimer()
				if many {
					for _, err := range s.QuarantineMany(items) {
						if err != nil {
							b.Fatal(err)
						}
					}
				} else {
					for _, it := range items {
						if err := s.Quarantine(it.Name, it.Reason); err != nil {
							b.Fatal(err)
						}
					}
				}
				n += len(items)
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "mails/s")
		})
	}
}
