package parsers

import (
	"mime"
	"reflect"
	"testing"
)

// mediaTypeSeeds are Content-Type and Content-Disposition values: the
// simple forms the fast path reads and the odd ones it must hand over.
var mediaTypeSeeds = []string{
	"",
	"text/plain",
	"TEXT/Plain",
	"  text/plain  ",
	"text/plain; charset=utf-8",
	"text/plain; charset=\"UTF-8\"",
	"text/plain;charset=us-ascii;format=flowed",
	"text/plain; charset=utf-8;",
	"text/plain; charset=utf-8; ;",
	"text/plain; charset=utf-8 (comment)",
	"text/plain; Charset=UTF-8",
	"text/plain; charset=",
	"text/plain; charset=\"\"",
	"text/plain; charset",
	"text/plain; =utf-8",
	"text/plain; charset=\"utf-8",
	"text/plain; charset=\"a\\\"b\"",
	"text/plain; name=\"C:\\dev\\go\\foo.txt\"",
	"text/plain; charset=\"a\r\nb\"",
	"text/plain; charset=utf-8; charset=utf-8",
	"text/plain; charset=utf-8; charset=latin1",
	"multipart/signed; micalg=pgp-sha256;\n protocol=\"application/pgp-signature\"; boundary=\"=-=-=\"",
	"multipart/mixed; boundary=\"----=_Part_0_1.2\"",
	"multipart/report; report-type=delivery-status; boundary=\"abc\"",
	"attachment; filename=\"foo.changes\"",
	"inline",
	"attachment; filename*=UTF-8''%e2%82%ac.txt",
	"attachment; filename*0=\"a\"; filename*1=\"b\"",
	"text",
	"text/",
	"/plain",
	"text/plain/x",
	"text/pl ain",
	"text/plain\u00a0; charset=utf-8",
	"text/plain; charset=\u00e9",
	"text/plain;\v charset=utf-8\f",
	"message/rfc822",
	"application/octet-stream; name=foo.tar.gz",
	"text/plain; a=1; b=2; c=\"3\"; d=4; e=5; f=6; g=7; h=8; i=9; j=10",
}

// checkMediaType fails t when parseMediaType and mime.ParseMediaType
// disagree on v.
func checkMediaType(t *testing.T, v string) {
	t.Helper()
	mt, params, err := parseMediaType(v)
	wmt, wparams, werr := mime.ParseMediaType(v)
	if mt != wmt || (err == nil) != (werr == nil) || !reflect.DeepEqual(params, wparams) {
		t.Errorf("parseMediaType(%q) = %q, %v, %v; mime gives %q, %v, %v", v, mt, params, err, wmt, wparams, werr)
	}
	if err != nil && werr != nil && err.Error() != werr.Error() {
		t.Errorf("parseMediaType(%q) error %q; mime gives %q", v, err, werr)
	}
}

// TestParseMediaTypeMatchesMime: the fast path gives exactly what
// mime.ParseMediaType gives.
func TestParseMediaTypeMatchesMime(t *testing.T) {
	fast := 0
	for _, v := range mediaTypeSeeds {
		checkMediaType(t, v)
		if _, _, ok := fastMediaType(v); ok {
			fast++
		}
	}
	// The fast path must actually take the common forms.
	for _, v := range []string{"text/plain", "text/plain; charset=\"UTF-8\"", "multipart/mixed; boundary=\"----=_Part_0_1.2\"", "attachment; filename=\"foo.changes\""} {
		if _, _, ok := fastMediaType(v); !ok {
			t.Errorf("fastMediaType(%q) not taken", v)
		}
	}
	if fast == 0 {
		t.Error("fast path never taken")
	}
}

// FuzzParseMediaType compares the fast path with mime.ParseMediaType.
func FuzzParseMediaType(f *testing.F) {
	for _, v := range mediaTypeSeeds {
		f.Add(v)
	}
	f.Fuzz(checkMediaType)
}
