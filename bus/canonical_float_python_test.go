//go:build e2e

package bus

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pythonDumpsLines runs /usr/bin/python3 (Debian's, not a pyenv one on
// PATH) with code on stdin and returns its output lines.
func pythonDumpsLines(t *testing.T, code string, stdin []byte) []string {
	t.Helper()
	cmd := exec.Command("/usr/bin/python3", "-c", code)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("/usr/bin/python3: %v\n%s", err, stderr.String())
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

// TestCanonicalFloatsPython compares Canonical with Debian's
// /usr/bin/python3 json.dumps, fedmsg's encoder, on 12,000 random doubles
// and the edge cases, each handed to Python as its exact 64-bit pattern;
// then on 2,000 random JSON number texts (up to 40 digits, exponents to
// ±350) read the way Python's json.loads reads them. The seed is logged;
// MAILGW_CANON_SEED replays it.
func TestCanonicalFloatsPython(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("MAILGW_CANON_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 15))
	floats := append(floatEdges(), randFloats(r, 12000)...)
	var in bytes.Buffer
	for _, f := range floats {
		fmt.Fprintf(&in, "%016x\n", math.Float64bits(f))
	}
	lines := pythonDumpsLines(t, `import json, struct, sys
for line in sys.stdin:
    f = struct.unpack('>d', bytes.fromhex(line.strip()))[0]
    print(json.dumps([f], sort_keys=True, separators=(',', ':')))`, in.Bytes())
	if len(lines) != len(floats) {
		t.Fatalf("python answered %d of %d", len(lines), len(floats))
	}
	bad := 0
	for i, f := range floats {
		got, err := Canonical([]any{f})
		if err != nil || string(got) != lines[i] {
			if bad++; bad <= 20 {
				t.Errorf("%016x (seed %d): go %s %v, python %s", math.Float64bits(f), seed, got, err, lines[i])
			}
		}
	}
	t.Logf("%d doubles byte-identical to python's json.dumps", len(floats)-bad)

	// JSON number texts: json.Number in Go, json.loads in Python.
	texts := []string{"1E5", "-0.0", "1e-400", "-1e-400", "2.5e-324", "0.10000000000000000555", "1.0", "1e+16", "123456789012345678901234567890.5"}
	for len(texts) < 2000 {
		var sb strings.Builder
		if r.IntN(2) == 0 {
			sb.WriteByte('-')
		}
		sb.WriteString(strconv.Itoa(r.IntN(10) * (1 + r.IntN(2)*int(math.Pow10(r.IntN(9))))))
		if r.IntN(3) > 0 {
			sb.WriteByte('.')
			for range 1 + r.IntN(30) {
				sb.WriteByte(byte('0' + r.IntN(10)))
			}
		}
		if r.IntN(2) == 0 {
			fmt.Fprintf(&sb, "%s%+d", []string{"e", "E"}[r.IntN(2)], r.IntN(700)-350)
		} else if !strings.Contains(sb.String(), ".") {
			sb.WriteString(".5")
		}
		texts = append(texts, sb.String())
	}
	in.Reset()
	for _, s := range texts {
		in.WriteString(s + "\n")
	}
	lines = pythonDumpsLines(t, `import json, sys
for line in sys.stdin:
    print(json.dumps(json.loads(line), sort_keys=True, separators=(',', ':')))`, in.Bytes())
	if len(lines) != len(texts) {
		t.Fatalf("python answered %d of %d", len(lines), len(texts))
	}
	compared := 0
	for i, s := range texts {
		got, err := Canonical(json.Number(s))
		if lines[i] == "Infinity" || lines[i] == "-Infinity" {
			// Out of a double's range: Python writes non-JSON; mailgw refuses.
			var ce *CanonicalError
			if !errors.As(err, &ce) || ce.Reason != ErrNonFinite {
				t.Errorf("%s: go %s %v, want %q", s, got, err, ErrNonFinite)
			}
			continue
		}
		compared++
		if err != nil || string(got) != lines[i] {
			t.Errorf("%s (seed %d): go %s %v, python %s", s, seed, got, err, lines[i])
		}
	}
	t.Logf("%d number texts byte-identical to python's json.loads + json.dumps", compared)
	if len(floats)+compared < 10000 {
		t.Fatalf("only %d values compared", len(floats)+compared)
	}
}

// floatEdges are the values issue 15 names, the two ends of the fixed
// notation (decimal exponents -5/-4 and 15/16) and their neighbours,
// subnormals, and numbers whose shortest digits fill 17 places.
func floatEdges() []float64 {
	out := []float64{
		1e16, 1e-05, 0.1, math.Copysign(0, -1), 100000000.0, 5e-324, math.MaxFloat64,
		0, 1, -1, 1.5, 0.0001, 0.00001, 0.000123, 1e15, 1e17, 9999999999999998, 1e22, 1e23,
		123456789012345678, 1234567890123456.7, 0.3, 1.0 / 3, 2.0 / 3, -2.5e-7,
		math.SmallestNonzeroFloat64 * 3, 2.2250738585072014e-308, 2.225073858507201e-308,
		float64(float32(0.1)), float64(math.MaxFloat32), 1393878837, 1393878837.123,
		4.35, 0.07, 1e-4 - 1e-20, 9.999999999999999e15, 1e300, -1e-300, 7e-10,
	}
	for _, p := range []float64{1e-5, 1e-4, 1e15, 1e16, 1e17, 1, 0.1} {
		out = append(out, math.Nextafter(p, 0), math.Nextafter(p, math.Inf(1)), -p)
	}
	return out
}

// randFloats draws n finite doubles: a third from random bit patterns
// (every exponent, subnormals), a third of a few random decimal digits
// scaled by a power of ten around the notation switch, a third integral.
func randFloats(r *rand.Rand, n int) []float64 {
	out := make([]float64, 0, n)
	for len(out) < n {
		var f float64
		switch len(out) % 3 {
		case 0:
			f = math.Float64frombits(r.Uint64())
		case 1:
			digits := r.IntN(1_000_000) * []int{1, -1}[r.IntN(2)]
			f = float64(digits) * math.Pow(10, float64(r.IntN(30)-12))
		default:
			f = math.Round(r.Float64() * math.Pow(2, float64(r.IntN(64))))
		}
		if !math.IsNaN(f) && !math.IsInf(f, 0) {
			out = append(out, f)
		}
	}
	return out
}
