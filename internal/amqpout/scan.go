package amqpout

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
)

// A message needs a few top-level fields of a msg of several kilobytes;
// decoding the whole msg with encoding/json took half of the outlet's CPU
// time (BenchmarkOutlet, 20,000 messages: 0.80 of 1.52 CPU-s). members
// walks an object's members instead, skipping the values it is not asked
// for without decoding them. Its input is the journal's canonical JSON
// (CRC-checked); anything it does not understand is an error, and the
// caller then decodes with encoding/json, which reports the problem.

var errScan = errors.New("not a JSON object in the expected form")

// errStop, returned by members' fn, ends the walk early (members returns
// nil).
var errStop = errors.New("stop")

// members calls fn with the raw key (as written, without its quotes) and
// the raw value of each member of the JSON object b.
func members(b []byte, fn func(key, val []byte) error) error {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return errScan
	}
	return memberList(b, i+1, false, fn)
}

// memberList is members from b[i], after an object's "{" or a member's
// ",". The list ends at "}", or with open set at the end of b after a
// ",": a part of an object.
func memberList(b []byte, i int, open bool, fn func(key, val []byte) error) error {
	_, err := walkMembers(b, i, open, fn)
	return err
}

// memberListEnd is memberList of a list that ends at "}", walked to its
// end whatever fn returns (errStop included): it returns the index after
// that "}".
func memberListEnd(b []byte, i int, fn func(key, val []byte) error) (int, error) {
	return walkMembers(b, i, false, func(k, v []byte) error {
		if err := fn(k, v); err != errStop {
			return err
		}
		return nil
	})
}

// walkMembers is memberList; it returns the index after the list's "}"
// (len(b) for an open list that ends with b, -1 when fn stopped it).
func walkMembers(b []byte, i int, open bool, fn func(key, val []byte) error) (int, error) {
	i = skipSpace(b, i)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	if open && i == len(b) {
		return i, nil
	}
	for i < len(b) {
		if b[i] != '"' {
			return 0, errScan
		}
		kStart := i + 1
		kEnd, err := skipString(b, i)
		if err != nil {
			return 0, err
		}
		i = skipSpace(b, kEnd)
		if i >= len(b) || b[i] != ':' {
			return 0, errScan
		}
		i = skipSpace(b, i+1)
		vEnd, err := skipValue(b, i)
		if err != nil {
			return 0, err
		}
		if err := fn(b[kStart:kEnd-1], b[i:vEnd]); err == errStop {
			return -1, nil
		} else if err != nil {
			return 0, err
		}
		i = skipSpace(b, vEnd)
		if i >= len(b) {
			break
		}
		switch b[i] {
		case '}':
			return i + 1, nil
		case ',':
			if i = skipSpace(b, i+1); open && i == len(b) {
				return i, nil
			}
		default:
			return 0, errScan
		}
	}
	return 0, errScan
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] (a
// quote): the next quote not escaped, i.e. after an even number of
// backslashes. (bytes.IndexAny for both characters cost twice as much.)
func skipString(b []byte, i int) (int, error) {
	for j := i + 1; j < len(b); {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			break
		}
		q := j + k
		n := 0
		for p := q - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return q + 1, nil
		}
		j = q + 1
	}
	return 0, errScan
}

// skipValue returns the index after the value starting at b[i].
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errScan
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, err := skipString(b, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, errScan
	}
	j := i
	for j < len(b) && bytes.IndexByte([]byte(",}] \t\n\r"), b[j]) < 0 {
		j++
	}
	if j == i {
		return 0, errScan
	}
	return j, nil
}

// str decodes a JSON string value.
func str(val []byte) (string, error) {
	if len(val) >= 2 && val[0] == '"' && bytes.IndexByte(val, '\\') < 0 {
		return string(val[1 : len(val)-1]), nil
	}
	var s string
	err := json.Unmarshal(val, &s)
	return s, err
}

// integer decodes a JSON integer value.
func integer(val []byte) (int64, error) {
	return strconv.ParseInt(string(val), 10, 64)
}
