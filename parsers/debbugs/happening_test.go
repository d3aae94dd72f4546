package debbugs

import "testing"

// TestHandlerID reads debbugs' handler ids out of the Message-IDs it
// makes, with the year of their time: ten digits of Unix time from
// September 2001 on, nine before, each followed by the process id.
func TestHandlerID(t *testing.T) {
	for _, c := range []struct {
		mid  string
		bug  int
		id   string
		year int
	}{
		{"handler.322535.D322535.112516449211979.ackdone@bugs.debian.org", 322535, "handler.322535.D322535.112516449211979", 2005},
		{"handler.322535.D322535.112516449211979.notifdone@bugs.debian.org", 322535, "handler.322535.D322535.112516449211979", 2005},
		// merged bugs closed by one mail: the first number is each bug's
		{"handler.406067.D406059.120865870310995.ackdone@bugs.debian.org", 406067, "handler.406067.D406059.120865870310995", 2008},
		{"handler.406067.D406059.120865870310995.ackdone@bugs.debian.org", 406059, "", 2008},
		{"handler.563.B.83340519612345.ack@bugs.debian.org", 563, "handler.563.B.83340519612345", 1996},
		{"handler.1000974.D1000974.16388803767505.ackdone@bugs.debian.org", 1000974, "handler.1000974.D1000974.16388803767505", 2021},
		{"mboxgen.1.3.handler.322535.D322535.112516449211979.ackdone@bugs.debian.org", 322535, "", 0},
		{"handler.322535.D322535.1125x.ackdone@bugs.debian.org", 322535, "", 0},
		{"handler.322535.D322535.112516449211979@bugs.debian.org", 322535, "", 2005},
		{"20050813104745.GA11505@localhost.localdomain", 322535, "", 0},
	} {
		if got := handlerID(c.mid, c.bug); got != c.id {
			t.Errorf("handlerID(%q, %d) = %q, want %q", c.mid, c.bug, got, c.id)
		}
		if got := handlerYear(c.mid); got != c.year {
			t.Errorf("handlerYear(%q) = %d, want %d", c.mid, got, c.year)
		}
	}
}
