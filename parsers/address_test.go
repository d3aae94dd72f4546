package parsers

import (
	"slices"
	"strings"
	"testing"
)

func TestAddress(t *testing.T) {
	for _, c := range []struct{ in, display, email string }{
		{`"Marco M. F. De Santis" <m@example.org>`, "Marco M. F. De Santis <m@example.org>", "m@example.org"},
		{`Marco M. F. De Santis <m@example.org>`, "Marco M. F. De Santis <m@example.org>", "m@example.org"},
		{`"Debian Bug Tracking System" <owner@bugs.debian.org>`, "Debian Bug Tracking System <owner@bugs.debian.org>", "owner@bugs.debian.org"},
		{`David "Martínez" Moreno <ender@debian.org>`, "David Martínez Moreno <ender@debian.org>", "ender@debian.org"},
		{`Jörg ÿþ <Joerg@Example.ORG>`, "Jörg ÿþ <Joerg@Example.ORG>", "joerg@example.org"},
		{`doko@cs.tu-berlin.de (Matthias Klose)`, "Matthias Klose <doko@cs.tu-berlin.de>", "doko@cs.tu-berlin.de"},
		{`  Name   <a@b.org>  `, "Name <a@b.org>", "a@b.org"},
		{`<A@b.org>`, "A@b.org", "a@b.org"},
		{`A@B.org`, "A@B.org", "a@b.org"},
		{`Doe, John <j@x.org>`, "Doe, John <j@x.org>", "j@x.org"}, // a decoded name with a comma
		{`"a \"b\"" <c@d.org>`, `a "b" <c@d.org>`, "c@d.org"},
		{`First <a@x.org>, Second <b@x.org>`, "First <a@x.org>", "a@x.org"},
		{`Broken "quote <x@y.org>`, `Broken "quote <x@y.org>`, "x@y.org"},
		{`Just A Name`, "Just A Name", ""},
		{``, "", ""},
		{`<>`, "<>", ""},
	} {
		d, e := Address(c.in)
		if d != c.display || e != c.email {
			t.Errorf("Address(%q) = %q, %q; want %q, %q", c.in, d, e, c.display, c.email)
		}
	}
	d, es := AddressList(`"Bastian Germann" <B@x.org>, linux-xfs@vger.kernel.org`)
	if d != "Bastian Germann <B@x.org>, linux-xfs@vger.kernel.org" || !slices.Equal(es, []string{"b@x.org", "linux-xfs@vger.kernel.org"}) {
		t.Errorf("AddressList: %q %q", d, es)
	}
	if d, es := AddressList(""); d != "" || len(es) != 0 || es == nil {
		t.Errorf("AddressList empty: %q %#v", d, es)
	}
	pl := map[string]any{}
	PutAddress(pl, "submitter", "Nobody")
	if pl["submitter"] != "Nobody" || pl["submitter_email"] != nil {
		t.Errorf("PutAddress without an address: %v", pl)
	}
}

// FuzzAddress: any value gives valid output, an email is lower-case
// and has an @, and the display form contains it.
func FuzzAddress(f *testing.F) {
	for _, s := range []string{`"A B" <a@b>`, `a@b (c)`, `x`, `<@>`, `"<a@b>" <c@d>`, "\xff <a@b>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, e := Address(s)
		if e != "" && (!strings.Contains(e, "@") || strings.ToLower(e) != e) {
			t.Fatalf("Address(%q) email %q", s, e)
		}
		if e != "" && !strings.Contains(strings.ToLower(d), e) {
			t.Fatalf("Address(%q) = %q without its email %q", s, d, e)
		}
	})
}
