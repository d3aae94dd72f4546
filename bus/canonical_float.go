package bus

import (
	"math"
	"strconv"
)

// ErrNonFinite is the Reason of a CanonicalError for a NaN or an infinity
// (a float64 value, or a JSON number too large for a double, which Python
// would read as inf). Python's json.dumps writes them as NaN and Infinity,
// which are not JSON, so no canonical form exists.
const ErrNonFinite = "NaN or infinity not allowed"

// appendFloat writes f as Python's float.__repr__ does, which is what
// json.dumps writes: the shortest digits that read back as f, in fixed
// notation with at least one digit after the point when the decimal
// exponent is in [-4, 16) ("0.0001", "100000000.0", "-0.0"), else in
// exponent notation with a sign and at least two exponent digits ("1e-05",
// "1e+16", "1.7976931348623157e+308", "5e-324").
func appendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, &CanonicalError{Reason: ErrNonFinite}
	}
	// Go's shortest 'e' form has the same digits as Python's repr
	// (both are the shortest string that rounds back to f): -d.ddde±XX.
	var tmp [32]byte
	e := strconv.AppendFloat(tmp[:0], f, 'e', -1, 64)
	if e[0] == '-' {
		b = append(b, '-')
		e = e[1:]
	}
	var digits [24]byte // at most 17 significant digits
	nd := 0
	i := 0
	for ; e[i] != 'e'; i++ {
		if e[i] != '.' {
			digits[nd] = e[i]
			nd++
		}
	}
	exp := 0
	for _, c := range e[i+2:] { // after "e" and its sign
		exp = exp*10 + int(c-'0')
	}
	if e[i+1] == '-' {
		exp = -exp
	}
	d := digits[:nd]
	// decpt is where the point goes: f = 0.d1d2... × 10^decpt.
	decpt := exp + 1
	if decpt <= -4 || decpt > 16 {
		b = append(b, d[0])
		if len(d) > 1 {
			b = append(b, '.')
			b = append(b, d[1:]...)
		}
		b = append(b, 'e')
		if exp < 0 {
			b = append(b, '-')
			exp = -exp
		} else {
			b = append(b, '+')
		}
		if exp < 10 {
			b = append(b, '0')
		}
		return strconv.AppendInt(b, int64(exp), 10), nil
	}
	switch {
	case decpt <= 0: // 0.000ddd
		b = append(b, '0', '.')
		for range -decpt {
			b = append(b, '0')
		}
		b = append(b, d...)
	case decpt >= len(d): // ddd000.0
		b = append(b, d...)
		for range decpt - len(d) {
			b = append(b, '0')
		}
		b = append(b, '.', '0')
	default: // dd.ddd
		b = append(b, d[:decpt]...)
		b = append(b, '.')
		b = append(b, d[decpt:]...)
	}
	return b, nil
}

// appendFloatNumber writes a json.Number that has a fraction or an
// exponent as the float Python's json.loads makes of it: the double
// nearest to it (both languages round correctly), then its repr. s must
// be a JSON number (leading zeros are tolerated, as for integers).
func appendFloatNumber(b []byte, s string) ([]byte, error) {
	if !floatSyntax(s) {
		return b, &CanonicalError{Reason: "invalid number " + strconv.Quote(s)}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !math.IsInf(f, 0) {
		return b, &CanonicalError{Reason: "invalid number " + strconv.Quote(s)}
	}
	return appendFloat(b, f) // ±Inf (out of range) is refused there
}

// floatSyntax reports whether s is -?D+(.D+)?([eE][+-]?D+)? with a
// fraction or an exponent: JSON's number grammar (leading zeros allowed),
// and nothing strconv.ParseFloat would take besides (no "Inf", hex or
// underscores).
func floatSyntax(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() bool {
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i > start
	}
	if !digits() {
		return false
	}
	frac, exp := false, false
	if i < len(s) && s[i] == '.' {
		i++
		if !digits() {
			return false
		}
		frac = true
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
		exp = true
	}
	return i == len(s) && (frac || exp)
}
