package dak

import (
	"reflect"
	"strings"
	"testing"
)

const sampleChanges = `Format: 1.8
Date: Sun, 20 Apr 2008 11:20:08 +0200
Source: inn
Binary: inn  inn-dev
Architecture: source i386
Version: 1:1.7.2debian-33
Distribution: unstable lenny-backports
Urgency: medium
Maintainer: Marco d'Itri <md@linux.it>
Changed-By: Marco d'Itri <md@linux.it>
Description: 
 inn        - News transport system 'InterNetNews' by the ISC and Rich Salz
Closes: 473870 314533 473870
 420656
Changes: 
 inn (1:1.7.2debian-33) unstable; urgency=medium
 .
   * Fixed a typo. (Closes: #473870)
Checksums-Sha1: 
 da39a3ee5e6b4b0d3255bfef95601890afd80709 998 inn_1.7.2debian-33.dsc
Checksums-Sha256: 
 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 998 inn_1.7.2debian-33.dsc
 not-a-valid-line
 ccffaa74beb783d79822424d82034dde93184c5b87bf41dc76642efb666c15e0 809322 inn_1.7.2debian-33_i386.deb
Files: 
 b98eb1c0b9edec0b7e823a66d03b80e5 998 news extra inn_1.7.2debian-33.dsc
 0123456789abcdef0123456789abcdef 809322 non-free/news extra inn_1.7.2debian-33_i386.deb

Not: part of the paragraph
`

func TestParseChangesFields(t *testing.T) {
	for _, text := range []string{sampleChanges, "\n\n" + strings.ReplaceAll(sampleChanges, "\n", "\r\n")} {
		ch := ParseChanges(text)
		if got := ch.Value("version"); got != "1:1.7.2debian-33" {
			t.Errorf("Version = %q", got)
		}
		if got := ch.Words("Distribution"); !reflect.DeepEqual(got, []string{"unstable", "lenny-backports"}) {
			t.Errorf("Distribution = %q", got)
		}
		if got := ch.Words("Binary"); !reflect.DeepEqual(got, []string{"inn", "inn-dev"}) {
			t.Errorf("Binary = %q", got)
		}
		if got := ch.Closes(); !reflect.DeepEqual(got, []int{314533, 420656, 473870}) {
			t.Errorf("Closes = %v (folded, repeats must go, sorted)", got)
		}
		if _, ok := ch.Get("Not"); ok {
			t.Error("field after the blank line was read into the paragraph")
		}
		want := "inn (1:1.7.2debian-33) unstable; urgency=medium\n\n  * Fixed a typo. (Closes: #473870)"
		if got := ch.Text("Changes"); got != want {
			t.Errorf("Text(Changes) = %q, want %q", got, want)
		}
		if got, _ := ch.Get("Changes"); got != "\n inn (1:1.7.2debian-33) unstable; urgency=medium\n .\n   * Fixed a typo. (Closes: #473870)" {
			t.Errorf("raw Changes = %q (python-debian form expected)", got)
		}
		files := ch.Files()
		if len(files) != 2 || files[1] != (FileEntry{MD5Sum: "0123456789abcdef0123456789abcdef", Size: 809322,
			Section: "non-free/news", Priority: "extra", Name: "inn_1.7.2debian-33_i386.deb"}) {
			t.Errorf("Files = %+v", files)
		}
		sums := ch.Checksums("Checksums-Sha256")
		if len(sums) != 2 || sums[1].Size != 809322 || sums[1].Name != "inn_1.7.2debian-33_i386.deb" {
			t.Errorf("Checksums-Sha256 = %+v (the malformed line must be skipped)", sums)
		}
	}
}

func TestParseChangesEdges(t *testing.T) {
	cases := []struct {
		name, in string
		fields   int
	}{
		{"empty", "", 0},
		{"blank", "\n \n\t\n", 0},
		{"continuation first", " foo\nSource: x\n", 0},
		{"no colon", "garbage line\nSource: x\n", 0},
		{"armor line ends", "Source: x\n-----BEGIN PGP SIGNATURE-----\n", 1},
		{"space in name", "Source x: y\n", 0},
		{"no final newline", "Source: x\nVersion: 1", 2},
		{"empty value", "Source:\n", 1},
	}
	for _, c := range cases {
		if got := len(ParseChanges(c.in).Fields); got != c.fields {
			t.Errorf("%s: %d fields, want %d", c.name, got, c.fields)
		}
	}
	ch := ParseChanges("Source: x\n")
	if ch.Files() == nil || ch.Checksums("Checksums-Sha256") == nil || ch.Closes() == nil || ch.Words("Binary") == nil {
		t.Error("absent list fields must give empty lists, not nil")
	}
}

func TestBugList(t *testing.T) {
	cases := map[string][]int{
		"":                      {},
		"5 3 5 #4, 3":           {3, 4, 5},
		"abc -1 0 12":           {12},
		"999999999999999999999": {},
	}
	for in, want := range cases {
		if got := BugList(in); !reflect.DeepEqual(got, want) {
			t.Errorf("BugList(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestFindChanges(t *testing.T) {
	mail := "Thank you for your contribution to Debian.\n\nAccepted:\n\n" +
		"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n" +
		"Source: foo\nChanges:\n foo (1) unstable\n- -----BEGIN not armor\nVersion: 1\n" +
		"-----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----\ntrailer\n"
	loc, ok := findChanges(mail)
	if !ok || !loc.signed {
		t.Fatalf("clearsigned block not found: %+v", loc)
	}
	if !strings.HasSuffix(loc.armor, endSig) || !strings.HasPrefix(loc.armor, beginSig) {
		t.Errorf("armor = %q", loc.armor)
	}
	if !strings.Contains(loc.para, "\n-----BEGIN not armor\n") {
		t.Errorf("dash-escaping not undone: %q", loc.para)
	}
	// An unescaped "-----BEGIN" line ends the paragraph, so Version is
	// only reachable through the undashed text.
	if ParseChanges(loc.para).Value("Source") != "foo" {
		t.Error("Source not read")
	}

	loc, ok = findChanges("preamble\nFormat: 1.7\nSource: bar\n\nAccepted:\n")
	if !ok || loc.signed || ParseChanges(loc.para).Value("Source") != "bar" {
		t.Errorf("unsigned .changes not found: %+v", loc)
	}
	if _, ok := findChanges("nothing here\n"); ok {
		t.Error("found a .changes in a mail without one")
	}
	if _, ok := findChanges("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA1"); ok {
		t.Error("a header-only block must not count")
	}
	loc, ok = findChanges("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA1\n\nSource: cut\n")
	if !ok || loc.signed || ParseChanges(loc.para).Value("Source") != "cut" {
		t.Errorf("truncated block: %+v", loc)
	}
}

func TestIsNMU(t *testing.T) {
	cases := map[string]bool{
		"6.8.0-2.1":             true,
		"0.9.6-4.2":             true,
		"1.0+nmu1":              true,
		"3.2-2":                 false,
		"4.2.0.dfsg-11~bpo40+1": false,
		"1:1.7.2debian-33":      false,
		"2.0":                   false,
	}
	for v, want := range cases {
		if got := isNMU(v); got != want {
			t.Errorf("isNMU(%q) = %v", v, got)
		}
	}
}
