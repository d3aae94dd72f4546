package parsers

import "strings"

// Header is a mail's header fields in order, values decoded.
type Header struct {
	Fields []Field
}

// Get returns the first value of the field named key (case-insensitive),
// or "".
func (h Header) Get(key string) string {
	for _, f := range h.Fields {
		if strings.EqualFold(f.Key, key) {
			return f.Value
		}
	}
	return ""
}

// Values returns every value of the field named key, in order.
func (h Header) Values(key string) []string {
	var vs []string
	for _, f := range h.Fields {
		if strings.EqualFold(f.Key, key) {
			vs = append(vs, f.Value)
		}
	}
	return vs
}

// Has reports whether the header has a field named key.
func (h Header) Has(key string) bool {
	for _, f := range h.Fields {
		if strings.EqualFold(f.Key, key) {
			return true
		}
	}
	return false
}
