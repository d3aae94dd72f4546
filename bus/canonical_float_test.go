package bus

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// TestCanonicalFloats checks the vectors by name, NaN and the
// infinities refused with their path, and float32 and struct fields.
func TestCanonicalFloats(t *testing.T) {
	for _, c := range []struct {
		f    float64
		want string
	}{
		{1e16, "1e+16"}, {1e-05, "1e-05"}, {0.1, "0.1"}, {math.Copysign(0, -1), "-0.0"}, {100000000, "100000000.0"},
		{5e-324, "5e-324"}, {math.MaxFloat64, "1.7976931348623157e+308"}, {1e15, "1000000000000000.0"},
		{0.0001, "0.0001"}, {0, "0.0"}, {1.5e300, "1.5e+300"}, {123456789012345678, "1.2345678901234568e+17"},
		{-1.25e-7, "-1.25e-07"}, {12.5, "12.5"}, {0.000123, "0.000123"},
	} {
		if got, err := Canonical(c.f); err != nil || string(got) != c.want {
			t.Errorf("%v: got %s %v, want %s", c.f, got, err, c.want)
		}
	}
	if got, _ := Canonical(struct{ F []float32 }{[]float32{0.5}}); string(got) != `{"F":[0.5]}` {
		t.Errorf("float32 field: %s", got)
	}
	for _, f := range []any{math.NaN(), math.Inf(1), math.Inf(-1), float32(math.Inf(1)), json.Number("1e400"), json.Number("-1e309")} {
		msg := map[string]any{"files": []any{map[string]any{}, map[string]any{"size": f}}}
		_, err := Canonical(map[string]any{"msg": msg})
		if err == nil || err.Error() != "msg.files[1].size: "+ErrNonFinite {
			t.Errorf("%v: got %v", f, err)
		}
		env := &Envelope{Topic: "t", Msg: msg, MsgID: "x"}
		if _, err := env.Marshal(); err == nil || err.Error() != "msg.files[1].size: "+ErrNonFinite {
			t.Errorf("Envelope.Marshal %v: got %v", f, err)
		}
	}
	for _, n := range []string{"1.", ".5", "1e", "1e+", "0x1p-2", "Inf", "1_0.5", "1.5x", "--1.0", "1.5e5.5"} {
		if _, err := Canonical(json.Number(n)); err == nil || !strings.Contains(err.Error(), "invalid number") {
			t.Errorf("json.Number %q: got %v", n, err)
		}
	}
}
