package bus

import (
	"math/bits"
	"strings"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// asciiSafe[c] is true for the ASCII bytes Python writes as they are:
// 0x20..0x7e except '"' and '\\'.
var asciiSafe = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendString writes s as a JSON string with Python's ensure_ascii
// escaping. Each byte of invalid UTF-8 becomes \ufffd.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if i+8 <= len(s) {
			u := unsafe8(load64(s[i : i+8]))
			if u == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(u) >> 3 // the first byte to escape
		} else if asciiSafe[s[i]] {
			i++
			continue
		}
		c := s[i]
		b = append(b, s[start:i]...)
		if c < utf8.RuneSelf {
			switch c {
			case '"':
				b = append(b, '\\', '"')
			case '\\':
				b = append(b, '\\', '\\')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = appendU(b, rune(c))
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r >= 0x10000 {
			r -= 0x10000
			b = appendU(b, 0xd800+(r>>10))
			b = appendU(b, 0xdc00+(r&0x3ff))
		} else {
			// utf8.RuneError (U+FFFD) with size 1 for invalid bytes.
			b = appendU(b, r)
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// Byte-lane constants of unsafe8.
const (
	lanes01 = 0x0101010101010101
	lanes80 = 0x8080808080808080
)

// load64 reads the eight bytes of s, the first one lowest.
func load64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// unsafe8 tests the eight bytes in x at once: a lane's top bit is set in
// the result for a byte that is not asciiSafe (below 0x20, 0x7f and above,
// '"' or '\\'). Borrows and carries only run upwards from such a lane, so
// the lowest set bit marks the first byte to escape exactly.
func unsafe8(x uint64) uint64 {
	low := (x - 0x20*lanes01) &^ x
	high := (x + lanes01) | x
	q := x ^ '"'*lanes01
	bs := x ^ '\\'*lanes01
	quote := (q - lanes01) &^ q
	slash := (bs - lanes01) &^ bs
	return (low | high | quote | slash) & lanes80
}

// appendU writes \uXXXX with lowercase hex for a BMP code unit.
func appendU(b []byte, r rune) []byte {
	return append(b, '\\', 'u',
		hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
}

// fixUTF8 replaces each byte of invalid UTF-8 in s with U+FFFD, the same
// repair appendString makes.
func fixUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var sb strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		sb.WriteRune(r)
		i += size
	}
	return sb.String()
}
