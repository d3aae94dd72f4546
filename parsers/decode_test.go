package parsers

import "testing"

func TestDecodeTransfer(t *testing.T) {
	cases := []struct{ cte, in, want string }{
		{"quoted-printable", "a=3Db", "a=b"},
		{"Quoted-Printable", "soft=\nbreak", "softbreak"},
		{"quoted-printable", "crlf=\r\nx", "crlfx"},
		{"quoted-printable", "blanks= \t\nx", "blanksx"},
		{"quoted-printable", "bad=ZZ end", "bad=ZZ end"},
		{"quoted-printable", "=C3=A9t=C3=A9", "été"},
		{"base64", "w6l0\r\nw6k=\r\n", "été"},
		{"base64", "w6l0w6k*=", "été"},
		{"8bit", "as is=3D", "as is=3D"},
	}
	for _, c := range cases {
		got, cut, defect := DecodeTransfer(c.cte, []byte(c.in), 1<<10)
		if string(got) != c.want || cut || defect != "" {
			t.Errorf("DecodeTransfer(%q, %q) = %q, %v, %q; want %q", c.cte, c.in, got, cut, defect, c.want)
		}
	}
	if got, cut, _ := DecodeTransfer("quoted-printable", []byte("=41=42=43"), 2); string(got) != "AB" || !cut {
		t.Errorf("bounded: %q, cut %v", got, cut)
	}
	if _, _, defect := DecodeTransfer("x-uuencode", []byte("x"), 10); defect == "" {
		t.Error("an unknown encoding is not reported")
	}
}
