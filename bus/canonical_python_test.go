//go:build e2e

package bus

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestCanonicalPythonLive runs Debian's /usr/bin/python3 on a few hundred
// random values (random unicode, astral characters, controls, invalid
// UTF-8, big integers, nested objects) and compares its canonical bytes
// with Canonical's. The seed is logged so a failure can be replayed with
// MAILGW_CANON_SEED.
func TestCanonicalPythonLive(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("MAILGW_CANON_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 1))
	const n = 400
	inputs := make([]any, n)
	var stdin bytes.Buffer
	enc := json.NewEncoder(&stdin) // one value per line; Python reads it
	for i := range inputs {
		inputs[i] = randValue(r, 0)
		if err := enc.Encode(inputs[i]); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("/usr/bin/python3", "-c", `import json, sys
for line in sys.stdin:
    print(json.dumps(json.loads(line), sort_keys=True, separators=(',', ':')))`)
	cmd.Stdin = &stdin
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("/usr/bin/python3: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	i := 0
	for ; sc.Scan(); i++ {
		got, err := Canonical(inputs[i])
		if err != nil {
			t.Fatalf("input %d: %v", i, err)
		}
		if string(got) != sc.Text() {
			t.Errorf("input %d (seed %d):\n   go %s\npython %s", i, seed, got, sc.Text())
		}
	}
	if i != n {
		t.Fatalf("python answered %d of %d", i, n)
	}
}

// randRune draws from pools that cover every escaping rule.
func randRune(r *rand.Rand) rune {
	switch r.IntN(9) {
	case 0, 1:
		return rune(0x20 + r.IntN(0x5f))
	case 2:
		return rune(r.IntN(0x20))
	case 3:
		return []rune{0x7f, '"', '\\', '/', '<', '>', '&', 0x2028, 0x2029, 0xfeff, 0xfffd, 0xffff}[r.IntN(12)]
	case 4:
		return rune(0x80 + r.IntN(0x80))
	case 5:
		return rune(0x100 + r.IntN(0xd800-0x100))
	case 6:
		return rune(0xe000 + r.IntN(0x2000))
	case 7:
		return rune(0x10000 + r.IntN(0x10000))
	default:
		return rune(0x20000 + r.IntN(0x10ffff-0x20000+1))
	}
}

func randString(r *rand.Rand, n int) string {
	var sb strings.Builder
	for range n {
		if r.IntN(40) == 0 {
			sb.WriteByte(byte(0x80 + r.IntN(0x80))) // invalid UTF-8
			continue
		}
		sb.WriteRune(randRune(r))
	}
	return sb.String()
}

// randValue makes a random JSON-able value with no floats.
func randValue(r *rand.Rand, depth int) any {
	k := r.IntN(10)
	if depth >= 4 {
		k = r.IntN(6)
	}
	switch k {
	case 0, 1:
		return randString(r, r.IntN(20))
	case 2:
		switch r.IntN(4) {
		case 0:
			return int64(r.Uint64())
		case 1:
			return r.Uint64()
		case 2:
			return json.Number(strconv.FormatUint(r.Uint64(), 10) + strconv.FormatUint(r.Uint64(), 10))
		}
		return r.IntN(2000) - 1000
	case 3:
		return r.IntN(2) == 0
	case 4:
		return nil
	case 5:
		return []string{randString(r, r.IntN(5))}
	case 6, 7:
		l := make([]any, r.IntN(5))
		for i := range l {
			l[i] = randValue(r, depth+1)
		}
		return l
	}
	m := map[string]any{}
	for range r.IntN(6) {
		// Keys stay valid UTF-8: two keys repaired to the same text are an
		// error in Canonical (Python would keep the last).
		m[fixUTF8(randString(r, r.IntN(6)))] = randValue(r, depth+1)
	}
	return m
}
