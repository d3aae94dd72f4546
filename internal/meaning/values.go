package meaning

import (
	"encoding/json"

	"github.com/debian/mailgw/parsers"
)

// getter reads one member of a JSON object, nil when absent.
type getter func(key string) any

// getterOf reads the members of a map[string]any or a parsers.Object;
// anything else has no members.
func getterOf(v any) getter {
	switch o := v.(type) {
	case map[string]any:
		return func(k string) any { return o[k] }
	case parsers.Object:
		return o.Get
	}
	return func(string) any { return nil }
}

// payload is the getter of msg.
func payload(msg map[string]any) getter { return getterOf(msg) }

// str returns v when it is a string.
func str(v any) string {
	s, _ := v.(string)
	return s
}

// strs returns the strings of a string or a list of strings.
func strs(v any) []string {
	switch l := v.(type) {
	case string:
		if l == "" {
			return nil
		}
		return []string{l}
	case []string:
		return l
	case []any:
		out := make([]string, 0, len(l))
		for _, x := range l {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// num returns v when it is an integer.
func num(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int64:
		return n, true
	case int32:
		return int64(n), true
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	case float64: // decoded JSON
		if n == float64(int64(n)) {
			return int64(n), true
		}
	}
	return 0, false
}

// nums returns the integers of a list of integers.
func nums(v any) []int64 {
	var out []int64
	switch l := v.(type) {
	case []int:
		for _, n := range l {
			out = append(out, int64(n))
		}
	case []int64:
		out = l
	case []any:
		for _, x := range l {
			if n, ok := num(x); ok {
				out = append(out, n)
			}
		}
	}
	return out
}

// objects returns the getters of a list of objects.
func objects(v any) []getter {
	var out []getter
	switch l := v.(type) {
	case parsers.Objects:
		for _, o := range l {
			out = append(out, o.Get)
		}
	case []parsers.Object:
		for _, o := range l {
			out = append(out, o.Get)
		}
	case []map[string]any:
		for _, o := range l {
			out = append(out, getterOf(o))
		}
	case []any:
		for _, o := range l {
			out = append(out, getterOf(o))
		}
	}
	return out
}
